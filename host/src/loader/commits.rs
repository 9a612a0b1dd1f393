//! Commit notifications (ABI 1.1): one host thread calls each producer's `on_committed`
//! once the events it emitted are committed.
//!
//! The thread sleeps on a condition variable of its own while no watched producer has
//! emitted anything it has not reported (an idle host wakes it never), and otherwise waits
//! on the log itself, `Log::wait_committed(reported + 1)`. After each round it gathers for
//! [`GATHER`] before it looks again, so a producer emitting flat out causes a few thousand
//! rounds a second, not one per batch. It only reads the log: a producer whose hook is slow
//! delays the notifications, never an append or a delivery.
//!
//! Emitting costs a watched producer two atomic updates, and a lock only when the thread
//! sleeps. Producers without the hook (every ABI 1.0 library) are not watched at all. A
//! reload adds and removes watched producers; the thread starts with the first one.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::host_api::InstanceHost;
use super::instance::Instance;
use crate::log::{Commit, Log};

/// What a watched producer reports when it emits; held by its `InstanceHost`.
pub(crate) struct Watch {
    shared: Arc<Shared>,
    /// The highest sequence number this instance emitted.
    emitted: AtomicU64,
}

struct Shared {
    /// The highest sequence number any watched producer emitted.
    emitted: AtomicU64,
    /// The thread is asleep on `wake` (or about to be).
    sleeping: AtomicBool,
    inner: Mutex<Inner>,
    wake: Condvar,
}

struct Inner {
    /// True once `stop` began: the thread calls no hook any more.
    stopped: bool,
    /// Held while hooks run, so that a producer removed from it is called no more.
    watched: Vec<Watched>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Each update is a single step; a panic cannot leave it half-written.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Watch {
    /// The instance appended events up to `seq`.
    pub(crate) fn emitted(&self, seq: u64) {
        self.emitted.fetch_max(seq, Ordering::SeqCst);
        self.shared.emitted.fetch_max(seq, Ordering::SeqCst);
        // SeqCst pairs with the thread's store to `sleeping` and its second look at
        // `emitted`: either it sees this seq, or this sees it asleep and wakes it (under
        // the lock it sleeps with, so the wake-up cannot fall between).
        if self.shared.sleeping.load(Ordering::SeqCst) {
            let _lock = self.shared.lock();
            self.shared.wake.notify_one();
        }
    }
}

/// A producer the notifier tells about commits: an in-process [`Instance`], or an isolated
/// one whose worker is told (crate::hosted).
pub trait Notified: Send + Sync {
    /// Its host record, which reports what it emits to the notifier.
    fn host(&self) -> &'static InstanceHost;
    fn has_on_committed(&self) -> bool;
    /// `on_committed`, from the notifier's thread only.
    fn committed(&self, committed: u64);
}

impl Notified for Instance {
    fn host(&self) -> &'static InstanceHost {
        self.host
    }
    fn has_on_committed(&self) -> bool {
        Instance::has_on_committed(self)
    }
    fn committed(&self, committed: u64) {
        Instance::committed(self, committed)
    }
}

/// The notifier thread, when any producer has an `on_committed` hook. Stopping (or
/// dropping) it joins the thread; after that no hook is called, so the producers can be
/// destroyed.
pub struct Commits {
    log: Arc<Log>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Commits {
    /// A notifier watching no producer yet, with no thread yet.
    pub fn new(log: &Arc<Log>) -> Commits {
        let shared = Arc::new(Shared {
            emitted: AtomicU64::new(0),
            sleeping: AtomicBool::new(false),
            inner: Mutex::new(Inner { stopped: false, watched: Vec::new() }),
            wake: Condvar::new(),
        });
        Commits { log: log.clone(), shared, thread: None }
    }

    /// Watches `producer` if it has an `on_committed` hook, starting the thread if it is the
    /// first. Call before the producer starts.
    pub fn watch<P: Notified + 'static>(&mut self, producer: &Arc<P>) -> std::io::Result<()> {
        if !producer.has_on_committed() {
            return Ok(());
        }
        let watch = Arc::new(Watch { shared: self.shared.clone(), emitted: AtomicU64::new(0) });
        let _ = producer.host().watch.set(watch.clone());
        self.shared.lock().watched.push(Watched {
            instance: producer.clone() as Arc<dyn Notified>,
            watch,
            reported: 0,
        });
        if self.thread.is_none() {
            let (log, shared) = (self.log.clone(), self.shared.clone());
            // Read here, before the producer runs: read by the thread once it is scheduled,
            // it could already cover events no hook was told about.
            let reported = log.committed();
            let thread =
                std::thread::Builder::new().name("commits".into()).spawn(move || notify(&log, &shared, reported))?;
            self.thread = Some(thread);
        }
        Ok(())
    }

    /// Stops calling `producer`'s hook: once this returns, it is not called again (a reload
    /// removed the producer, which is destroyed next).
    pub fn unwatch<P: Notified>(&self, producer: &Arc<P>) {
        // By address: the same producer, whatever vtable its `dyn` carries.
        self.shared.lock().watched.retain(|w| !std::ptr::addr_eq(Arc::as_ptr(&w.instance), Arc::as_ptr(producer)));
    }

    /// Stops the thread and waits for it: it returns from a hook it is in, or from waiting.
    /// It waits on the log only for events the log appended, which the log commits or stops.
    pub fn stop(&mut self) {
        let Some(thread) = self.thread.take() else { return };
        self.shared.lock().stopped = true;
        self.shared.wake.notify_one();
        let _ = thread.join();
    }
}

impl Drop for Commits {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Watched {
    instance: Arc<dyn Notified>,
    watch: Arc<Watch>,
    /// The last value this instance's hook was given.
    reported: u64,
}

/// The thread: waits for something to report, then for the log to commit it, then tells
/// each producer whose events that commit covered. `reported`: the watermark before any
/// watched producer emitted.
fn notify(log: &Log, shared: &Shared, mut reported: u64) {
    loop {
        {
            let mut inner = shared.lock();
            while !inner.stopped && shared.emitted.load(Ordering::SeqCst) <= reported {
                shared.sleeping.store(true, Ordering::SeqCst);
                if shared.emitted.load(Ordering::SeqCst) > reported {
                    break;
                }
                inner = shared.wake.wait(inner).unwrap_or_else(|e| e.into_inner());
            }
            shared.sleeping.store(false, Ordering::SeqCst);
            if inner.stopped {
                // A last round: the disk log's final commit comes just before the stop, and
                // a producer that acknowledges upstream should hear of it.
                report(&mut inner, log.committed());
                return;
            }
        }
        if log.wait_committed(reported + 1, None) == Commit::Stopped {
            return;
        }
        let committed = log.committed();
        // Held while hooks run: `stop` and `unwatch` wait for the round to end.
        let mut inner = shared.lock();
        report(&mut inner, committed);
        if inner.stopped {
            return;
        }
        reported = committed;
        // Gather what comes next for a moment before looking again, unwatched: a producer
        // emitting flat out would otherwise wake this thread once per batch, a futex call
        // on its own thread and a third busy thread on the machine (the Rust producer, which
        // always has the hook, ran at 0.4 x C for it). Sparse emits still get their first
        // commit reported at once, since the thread sleeps on `wake` only when nothing came.
        // `stop` notifies `wake`, so it cuts the pause short, and the loop's last round
        // reports what came meanwhile.
        let _ = shared.wake.wait_timeout(inner, GATHER).unwrap_or_else(|e| e.into_inner());
    }
}

/// Calls the hook of each watched producer whose own events `committed` newly covers.
fn report(inner: &mut Inner, committed: u64) {
    for producer in &mut inner.watched {
        // The watermark, capped at the producer's own last event: a producer is called only
        // when its own events moved, not for every commit of the others.
        let value = committed.min(producer.watch.emitted.load(Ordering::SeqCst));
        if value > producer.reported {
            producer.reported = value;
            producer.instance.committed(value);
        }
    }
}

/// How long the thread gathers commits after a round before the next: a hook hears of a
/// commit at most about this much later (plus a wake-up), in at most `1 s / GATHER` rounds
/// a second.
const GATHER: std::time::Duration = std::time::Duration::from_micros(200);
