//! Delivery threads ("lanes") and the pool that starts them. A lane keeps the consumers it
//! is not calling right now in a shared queue, and publishes the call it is in; so when one
//! call never returns, the watchdog can hand the others to a new lane.

use std::collections::VecDeque;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::consumer::{Consumer, Report, Turn};
use super::watchdog::Watch;
use super::Abort;
use crate::bus::Bus;

/// A hook call under way on a lane.
pub(super) struct Call {
    pub consumer: usize,
    pub name: Arc<str>,
    pub since: Instant,
    /// The watchdog has seen it overrun and acted.
    pub overran: bool,
}

pub(super) struct Lane {
    /// The lane's consumers, except the one it is calling.
    waiting: Mutex<VecDeque<Consumer>>,
    pub(super) call: Mutex<Option<Call>>,
}

/// A consumer that is inside `on_events` at shutdown.
#[derive(Debug)]
pub struct Stuck {
    pub consumer: usize,
    pub hook: &'static str,
    pub elapsed: Duration,
}

/// The delivery threads: each consumer's report goes to `done` as it drains a closed log.
pub struct Pool {
    pub(super) bus: Arc<Bus>,
    pub(super) abort: Arc<Abort>,
    done: Sender<(usize, Report)>,
    pub(super) watch: Arc<Watch>,
    /// Lanes started, to name their threads.
    started: Mutex<usize>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic on a delivery thread leaves data that is still consistent: every field is
    // written whole.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Lane {
    /// Runs `call` (a hook of `consumer`) with the call published for the watchdog.
    pub(super) fn calling<R>(&self, pool: &Pool, consumer: &Consumer, call: impl FnOnce() -> R) -> R {
        *lock(&self.call) =
            Some(Call { consumer: consumer.index, name: consumer.name.clone(), since: Instant::now(), overran: false });
        pool.watch.call_started();
        let result = call();
        *lock(&self.call) = None;
        result
    }

    /// Takes every consumer waiting on this lane, to move them to another.
    pub(super) fn take_waiting(&self) -> Vec<Consumer> {
        lock(&self.waiting).drain(..).collect()
    }

    pub(super) fn put_back(&self, consumers: Vec<Consumer>) {
        lock(&self.waiting).extend(consumers);
    }
}

impl Pool {
    /// A pool with its watchdog running, and no lanes yet.
    pub fn start(bus: Arc<Bus>, abort: Arc<Abort>, done: Sender<(usize, Report)>) -> std::io::Result<Arc<Pool>> {
        let pool = Arc::new(Pool { bus, abort, done, watch: Arc::new(Watch::default()), started: Mutex::new(0) });
        Watch::spawn(&pool)?;
        Ok(pool)
    }

    /// Starts a delivery thread for `consumers`. If the thread cannot start, they come back
    /// with the error: a consumer dropped here would hold back the log forever.
    pub fn spawn(self: &Arc<Self>, consumers: Vec<Consumer>) -> Result<(), (std::io::Error, Vec<Consumer>)> {
        let name = {
            let mut started = lock(&self.started);
            *started += 1;
            format!("deliver-{}", *started - 1)
        };
        let lane = Arc::new(Lane { waiting: Mutex::new(VecDeque::new()), call: Mutex::new(None) });
        let (pool, on_thread) = (self.clone(), lane.clone());
        let (handover, handed) = std::sync::mpsc::sync_channel(1);
        let thread = std::thread::Builder::new().name(name).spawn(move || {
            if let Ok(consumers) = handed.recv() {
                on_thread.put_back(consumers);
                pool.run(&on_thread);
            }
        });
        match thread {
            // The thread waits in `recv` until the send.
            Ok(_) => {
                self.watch.add(&lane);
                handover.send(consumers).map_err(|e| (std::io::Error::other("delivery thread gone"), e.0))
            }
            Err(e) => Err((e, consumers)),
        }
    }

    /// The consumers inside a hook call right now, and for how long.
    pub fn stuck(&self) -> Vec<Stuck> {
        let now = Instant::now();
        let mut stuck = Vec::new();
        self.watch.each_lane(|lane| {
            if let Some(call) = &*lock(&lane.call) {
                stuck.push(Stuck { consumer: call.consumer, hook: "on_events", elapsed: now - call.since });
            }
        });
        stuck
    }

    /// A lane's loop: turns round its consumers until none is left. A consumer is out of
    /// the queue only while it takes its turn.
    fn run(self: &Arc<Self>, lane: &Lane) {
        let mut seen = self.bus.head();
        // Turns in a row that found nothing to do, and the earliest retry among them.
        let mut idle = 0usize;
        let mut wake_at: Option<Instant> = None;
        loop {
            let Some(mut consumer) = lock(&lane.waiting).pop_front() else { return };
            match consumer.turn(self, lane) {
                Turn::Worked { slow } => {
                    (idle, wake_at, seen) = (0, None, self.bus.head());
                    let alone = lock(&lane.waiting).is_empty();
                    if slow && !alone {
                        tracing::info!(consumer = %consumer.name, "on_events was slow several times in a row; this consumer gets a delivery thread of its own so the others are not held up");
                        if let Err((e, mut back)) = self.spawn(vec![consumer]) {
                            tracing::error!("cannot start a delivery thread ({e}); the consumer stays on this one");
                            for consumer in &mut back {
                                consumer.slow_calls = 0;
                            }
                            lane.put_back(back);
                        }
                        continue;
                    }
                }
                Turn::Idle(at) => {
                    idle += 1;
                    wake_at = match (wake_at, at) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                Turn::Ended => {
                    let _ = self.done.send((consumer.index, std::mem::take(&mut consumer.report)));
                    continue;
                }
            }
            let mut waiting = lock(&lane.waiting);
            waiting.push_back(consumer);
            // Every consumer had a turn with nothing to do since `seen`: wait for events.
            if idle >= waiting.len() {
                drop(waiting);
                self.bus.wait(seen, wake_at);
                (idle, wake_at, seen) = (0, None, self.bus.head());
            }
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.watch.close();
    }
}
