//! The watchdog: one thread that notices a hook call running longer than [`OVERRUN`] and
//! moves the other consumers of that call's lane to a new lane, so one consumer that never
//! returns does not stop its neighbours.
//!
//! It never polls. With no call under way it sleeps on a condition variable until a lane
//! starts one; with calls under way it sleeps until the oldest could overrun. A call that
//! overran is handled once and then ignored, so a consumer stuck for good costs nothing
//! more. An idle host wakes it never; a busy one about once per `OVERRUN`. At shutdown the
//! threshold drops to a quarter of `drain_timeout` (when that is shorter), so the neighbours
//! still drain in time.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::lane::{Call, Lane, Lanes};

/// How long a hook call may run before its neighbours move away. Well above any pause a
/// healthy call sees (preemption and page faults are milliseconds, even on a loaded
/// machine), and short enough that the neighbours' events wait at most about this long.
/// Moving them has no cost to the slow consumer, so a call that is merely long (a webhook
/// with a long timeout) loses nothing by tripping it.
pub const OVERRUN: Duration = Duration::from_secs(2);

pub struct Watch {
    state: Mutex<State>,
    wake: Condvar,
    /// The watchdog sleeps with no deadline; the next call to start must wake it.
    sleeping: AtomicBool,
    /// [`OVERRUN`], or less once shutdown began, in nanoseconds.
    overrun: AtomicU64,
}

impl Default for Watch {
    fn default() -> Self {
        Watch {
            state: Mutex::default(),
            wake: Condvar::new(),
            sleeping: AtomicBool::new(false),
            overrun: AtomicU64::new(OVERRUN.as_nanos() as u64),
        }
    }
}

#[derive(Default)]
struct State {
    lanes: Vec<Weak<Lane>>,
    /// The lanes is gone: the watchdog ends.
    closed: bool,
}

impl Watch {
    /// Starts the watchdog of `lanes`. It holds the lanes weakly, so that the lanes's end (when
    /// the last lane ends) ends it too.
    pub fn spawn(lanes: &Arc<Lanes>) -> std::io::Result<()> {
        let (watch, lanes) = (lanes.watch.clone(), Arc::downgrade(lanes));
        std::thread::Builder::new().name("watchdog".into()).spawn(move || watch.run(&lanes))?;
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add(&self, lane: &Arc<Lane>) {
        let mut state = self.lock();
        state.lanes.retain(|lane| lane.strong_count() > 0);
        state.lanes.push(Arc::downgrade(lane));
    }

    pub fn each_lane(&self, mut f: impl FnMut(&Arc<Lane>)) {
        for lane in self.lock().lanes.iter().filter_map(Weak::upgrade) {
            f(&lane);
        }
    }

    /// Called by a lane after it published a call. Costs one atomic load unless the
    /// watchdog sleeps without a deadline.
    ///
    /// No wake-up is lost: the watchdog stores `sleeping` before it loads the lanes'
    /// calls, and a lane loads `sleeping` after it stored its call, all SeqCst; so either
    /// the watchdog sees the call, or the lane sees `sleeping`.
    pub fn call_started(&self) {
        if self.sleeping.load(Ordering::SeqCst) && self.sleeping.swap(false, Ordering::SeqCst) {
            let _state = self.lock();
            self.wake.notify_one();
        }
    }

    /// Lowers the overrun threshold to `limit`: at shutdown, the neighbours of a stuck
    /// consumer must move in time to drain within the deadline, and a false alarm costs
    /// nothing then.
    pub fn hurry(&self, limit: Duration) {
        self.overrun.fetch_min(limit.as_nanos() as u64, Ordering::SeqCst);
        self.sleeping.store(false, Ordering::SeqCst);
        let _state = self.lock();
        self.wake.notify_one();
    }

    pub fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
    }

    fn run(&self, lanes: &Weak<Lanes>) {
        // Woken by a call that started: stay on a deadline for one `overrun` even if that
        // call has already returned, so that a stream of short calls wakes the watchdog
        // about once per `overrun` rather than once per call.
        let mut woken_by_call = false;
        loop {
            self.sleeping.store(true, Ordering::SeqCst);
            let Some(lanes) = lanes.upgrade() else { return };
            let now = Instant::now();
            let overrun = Duration::from_nanos(self.overrun.load(Ordering::SeqCst));
            let mut next: Option<Instant> = None;
            let mut overran = Vec::new();
            self.each_lane(|lane| {
                let Some(call) = lane.call(&lanes, now) else { return };
                if lane.overran.load(Ordering::Relaxed) == call.stamp {
                    return;
                }
                if call.elapsed >= overrun {
                    lane.overran.store(call.stamp, Ordering::Relaxed);
                    overran.push((lane.clone(), call));
                } else {
                    let due = now + (overrun - call.elapsed);
                    next = Some(next.map_or(due, |next| next.min(due)));
                }
            });
            if next.is_none() && std::mem::take(&mut woken_by_call) {
                next = Some(now + overrun);
            }
            if next.is_some() || !overran.is_empty() {
                self.sleeping.store(false, Ordering::SeqCst);
            }
            let moved = !overran.is_empty();
            for (lane, call) in overran {
                move_neighbours(&lanes, &lane, call);
            }
            // Let go of the lanes before taking the lock: if this is the last reference, its
            // drop takes the lock to close the watch.
            drop(lanes);
            let mut state = self.lock();
            if state.closed {
                return;
            }
            if moved {
                // The new lanes' calls may need a deadline.
                continue;
            }
            match next {
                Some(due) => drop(self.wake.wait_timeout(state, due.saturating_duration_since(now))),
                None => {
                    while self.sleeping.load(Ordering::SeqCst) && !state.closed {
                        state = self.wake.wait(state).unwrap_or_else(|e| e.into_inner());
                    }
                    woken_by_call = true;
                }
            }
        }
    }
}

/// Gives the consumers waiting on `lane`, whose `call` overran, a lane of their own.
fn move_neighbours(lanes: &Arc<Lanes>, lane: &Lane, call: Call) {
    let name = &lanes.name(call.consumer);
    let elapsed = call.elapsed;
    let neighbours = lane.take_waiting();
    if neighbours.is_empty() {
        tracing::info!(consumer = %name, hook = call.hook, "consumer has been in {} for {elapsed:.1?}; it has a delivery thread to itself, so no other consumer waits for it", call.hook);
        return;
    }
    let moved: Vec<&str> = neighbours.iter().map(|c| c.name.as_str()).collect();
    let moved = moved.join(", ");
    tracing::warn!(consumer = %name, hook = call.hook, "consumer has been in {} for {elapsed:.1?}; moving the consumers that share its delivery thread ({moved}) to a new one so they keep receiving events", call.hook);
    if let Err((e, back)) = lanes.spawn(neighbours) {
        tracing::error!("cannot start a delivery thread ({e}); {moved} wait for {name} to return");
        lane.put_back(back);
    }
}
