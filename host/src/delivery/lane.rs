//! Delivery threads ("lanes") and the lanes that starts them. A lane keeps the consumers it
//! is not calling right now in a shared queue, and publishes the call it is in; so when one
//! call never returns, the watchdog can hand the others to a new lane.
//!
//! This is on the path of every batch, so it costs one uncontended lock per turn (put the
//! consumer back, take the next) and a few atomic stores per call.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::consumer::{Consumer, Report, Turn};
use super::watchdog::Watch;
use super::Abort;
use crate::hosted::Hosted;
use crate::log::Log;

pub(super) struct Lane {
    /// The lane's consumers, except the one taking its turn.
    waiting: Mutex<VecDeque<Consumer>>,
    /// The hook call under way: when it started (a [`Lanes::stamp`]; 0 when there is none),
    /// and whose it is.
    call_since: AtomicU64,
    call_consumer: AtomicUsize,
    /// The `call_since` of the last call the watchdog acted on, so it acts once per call.
    pub(super) overran: AtomicU64,
}

/// A hook call under way.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    /// The consumer's key (its [`Consumer::index`]).
    pub consumer: usize,
    pub hook: &'static str,
    pub stamp: u64,
    pub elapsed: Duration,
}

struct Member {
    name: String,
    instance: Weak<Hosted>,
}

/// Told each consumer's key and report once it has read the end of the log (closed, or
/// its cursor retired) and its lane has let go of it.
pub type Done = Box<dyn Fn(usize, Report) + Send + Sync>;

/// The delivery threads.
pub struct Lanes {
    pub(super) log: Arc<Log>,
    pub(super) abort: Arc<Abort>,
    done: Done,
    pub(super) watch: Arc<Watch>,
    /// The consumers by key: their names, for the watchdog's messages, and their instances,
    /// for shutdown to hurry (not owned: a consumer that ended is destroyed when `run` says).
    members: Mutex<HashMap<usize, Member>>,
    /// What call stamps count from.
    epoch: Instant,
    /// Lanes started, to name their threads.
    started: AtomicUsize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic on a delivery thread leaves data that is still consistent: every field is
    // written whole.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Lane {
    /// Runs `call`, a hook of `consumer` that started at `started`, published for the
    /// watchdog. The store of `call_since` is SeqCst because the watchdog's wake-up relies
    /// on it (see [`Watch::call_started`]).
    pub(super) fn calling<R>(
        &self,
        lanes: &Lanes,
        consumer: &Consumer,
        started: Instant,
        call: impl FnOnce() -> R,
    ) -> R {
        self.call_consumer.store(consumer.index, Ordering::Relaxed);
        self.call_since.store(lanes.stamp(started), Ordering::SeqCst);
        lanes.watch.call_started();
        let result = call();
        self.call_since.store(0, Ordering::Release);
        result
    }

    /// The call under way, if any, as of `now`.
    pub(super) fn call(&self, lanes: &Lanes, now: Instant) -> Option<Call> {
        let stamp = self.call_since.load(Ordering::SeqCst);
        let consumer = self.call_consumer.load(Ordering::Relaxed);
        (stamp != 0).then(|| Call {
            consumer,
            hook: "on_events",
            stamp,
            elapsed: now.saturating_duration_since(lanes.epoch + Duration::from_nanos(stamp - 1)),
        })
    }

    /// Takes every consumer waiting on this lane, to move them to another.
    pub(super) fn take_waiting(&self) -> Vec<Consumer> {
        lock(&self.waiting).drain(..).collect()
    }

    pub(super) fn put_back(&self, consumers: Vec<Consumer>) {
        lock(&self.waiting).extend(consumers);
    }
}

impl Lanes {
    /// A lanes with its watchdog running, and no lanes yet.
    pub fn start(log: Arc<Log>, abort: Arc<Abort>, done: Done) -> std::io::Result<Arc<Lanes>> {
        let watch = Arc::new(Watch::default());
        let epoch = Instant::now();
        let members = Mutex::default();
        let lanes = Arc::new(Lanes { log, abort, done, watch, members, epoch, started: AtomicUsize::new(0) });
        Watch::spawn(&lanes)?;
        Ok(lanes)
    }

    /// `at` as a call stamp: nanoseconds since the epoch, plus one so that 0 means "none".
    fn stamp(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_nanos() as u64 + 1
    }

    /// Starts a delivery thread for `consumers`. If the thread cannot start, they come back
    /// with the error: a consumer dropped here would hold back the log forever.
    pub fn spawn(self: &Arc<Self>, consumers: Vec<Consumer>) -> Result<(), (std::io::Error, Vec<Consumer>)> {
        lock(&self.members).extend(
            consumers.iter().map(|c| (c.index, Member { name: c.name.clone(), instance: Arc::downgrade(&c.instance) })),
        );
        let name = format!("deliver-{}", self.started.fetch_add(1, Ordering::Relaxed));
        let lane = Arc::new(Lane {
            waiting: Mutex::new(VecDeque::new()),
            call_since: AtomicU64::new(0),
            call_consumer: AtomicUsize::new(0),
            overran: AtomicU64::new(0),
        });
        let (lanes, on_thread) = (self.clone(), lane.clone());
        let (handover, handed) = std::sync::mpsc::sync_channel(1);
        let thread = std::thread::Builder::new().name(name).spawn(move || {
            if let Ok(consumers) = handed.recv() {
                on_thread.put_back(consumers);
                lanes.run(&on_thread);
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

    /// Shutdown began with `drain_timeout` to go: a call that overruns a quarter of it
    /// (or [`OVERRUN`](super::watchdog::OVERRUN), if shorter) moves its neighbours away, and
    /// an isolated consumer waiting out a restart's backoff (seconds, maybe) restarts now
    /// rather than sleep through the drain.
    pub fn hurry(&self, drain_timeout: Duration) {
        self.watch.hurry(drain_timeout / 4);
        let instances: Vec<Arc<Hosted>> =
            lock(&self.members).values().filter_map(|member| member.instance.upgrade()).collect();
        // Outside the lock: the run's set holds each instance too, so none is dropped here.
        for instance in instances {
            instance.hurry();
        }
    }

    /// The name of the consumer with key `index`.
    pub(super) fn name(&self, index: usize) -> String {
        lock(&self.members).get(&index).map(|member| member.name.clone()).unwrap_or_default()
    }

    /// The hook calls under way right now.
    pub fn calls(&self) -> Vec<Call> {
        let now = Instant::now();
        let mut calls = Vec::new();
        self.watch.each_lane(|lane| calls.extend(lane.call(self, now)));
        calls
    }

    /// A lane's loop: turns round its consumers until none is left. A consumer is out of
    /// the queue only while it takes its turn.
    fn run(self: &Arc<Self>, lane: &Lane) {
        let mut seen = self.log.seen();
        // Turns in a row that found nothing to do, and the earliest retry among them.
        let mut idle = 0usize;
        let mut wake_at: Option<Instant> = None;
        let mut next = lock(&lane.waiting).pop_front();
        while let Some(mut consumer) = next {
            match consumer.turn(self, lane) {
                Turn::Worked { slow } => {
                    (idle, wake_at, seen) = (0, None, self.log.seen());
                    if slow && !lock(&lane.waiting).is_empty() {
                        tracing::info!(consumer = %consumer.name, "on_events was slow several times in a row; this consumer gets a delivery thread of its own so the others are not held up");
                        match self.spawn(vec![consumer]) {
                            Ok(()) => {
                                next = lock(&lane.waiting).pop_front();
                                continue;
                            }
                            Err((e, back)) => {
                                tracing::error!("cannot start a delivery thread ({e}); the consumer stays on this one");
                                consumer = back.into_iter().next().expect("the consumer comes back");
                                consumer.slow_calls = 0;
                            }
                        }
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
                    // Let go of the instance first: once the report is in, `run` stops and
                    // destroys it, and the process may exit.
                    let (index, report) = (consumer.index, consumer.report());
                    drop(consumer);
                    lock(&self.members).remove(&index);
                    (self.done)(index, report);
                    next = lock(&lane.waiting).pop_front();
                    continue;
                }
            }
            let mut waiting = lock(&lane.waiting);
            waiting.push_back(consumer);
            // Every consumer had a turn with nothing to do since `seen`: wait for events.
            if idle >= waiting.len() {
                drop(waiting);
                self.log.wait(seen, wake_at);
                (idle, wake_at, seen) = (0, None, self.log.seen());
                waiting = lock(&lane.waiting);
            }
            next = waiting.pop_front();
        }
    }
}

impl Drop for Lanes {
    fn drop(&mut self) {
        self.watch.close();
    }
}
