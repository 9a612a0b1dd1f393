//! Commit notifications (ABI 1.1): one host thread calls each producer's `on_committed`
//! once the events it emitted are committed.
//!
//! The thread sleeps on a condition variable of its own while no watched producer has
//! emitted anything it has not reported (an idle host wakes it never), and otherwise waits
//! on the log itself, `Log::wait_committed(reported + 1)`, so it runs once per commit the
//! log makes, however many batches that commit covers. It only reads the log: a producer
//! whose hook is slow delays the notifications, never an append or a delivery.
//!
//! Emitting costs a watched producer two atomic updates, and a lock only when the thread
//! sleeps. Producers without the hook (every ABI 1.0 library) are not watched at all.

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
    /// True once `stop` began: the thread calls no hook any more.
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, bool> {
        // The flag is a single value; a panic cannot leave it half-written.
        self.stopped.lock().unwrap_or_else(|e| e.into_inner())
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
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Commits {
    /// Watches every producer of `producers` that has an `on_committed` hook; starts the
    /// thread only when there is one. Call before the producers start.
    pub fn start(log: &Arc<Log>, producers: impl IntoIterator<Item = Arc<dyn Notified>>) -> std::io::Result<Commits> {
        let shared = Arc::new(Shared {
            emitted: AtomicU64::new(0),
            sleeping: AtomicBool::new(false),
            stopped: Mutex::new(false),
            wake: Condvar::new(),
        });
        let watched: Vec<Watched> = producers
            .into_iter()
            .filter(|instance| instance.has_on_committed())
            .map(|instance| {
                let watch = Arc::new(Watch { shared: shared.clone(), emitted: AtomicU64::new(0) });
                let _ = instance.host().watch.set(watch.clone());
                Watched { instance, watch, reported: 0 }
            })
            .collect();
        let thread = if watched.is_empty() {
            None
        } else {
            let (log, shared) = (log.clone(), shared.clone());
            // Read here, before any producer runs: read by the thread once it is scheduled,
            // it could already cover events no hook was told about.
            let reported = log.committed();
            let thread = std::thread::Builder::new()
                .name("commits".into())
                .spawn(move || notify(&log, &shared, watched, reported))?;
            Some(thread)
        };
        Ok(Commits { shared, thread })
    }

    /// Stops the thread and waits for it: it returns from a hook it is in, or from waiting.
    /// It waits on the log only for events the log appended, which the log commits or stops.
    pub fn stop(&mut self) {
        let Some(thread) = self.thread.take() else { return };
        *self.shared.lock() = true;
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
fn notify(log: &Log, shared: &Shared, mut watched: Vec<Watched>, mut reported: u64) {
    loop {
        {
            let mut stopped = shared.lock();
            while !*stopped && shared.emitted.load(Ordering::SeqCst) <= reported {
                shared.sleeping.store(true, Ordering::SeqCst);
                if shared.emitted.load(Ordering::SeqCst) > reported {
                    break;
                }
                stopped = shared.wake.wait(stopped).unwrap_or_else(|e| e.into_inner());
            }
            shared.sleeping.store(false, Ordering::SeqCst);
            if *stopped {
                return;
            }
        }
        if log.wait_committed(reported + 1, None) == Commit::Stopped {
            return;
        }
        let committed = log.committed();
        // Held while hooks run: `stop` waits for the round to end, and none starts after.
        let stopped = shared.lock();
        if *stopped {
            return;
        }
        for producer in &mut watched {
            // The watermark, capped at the producer's own last event: a producer is called
            // only when its own events moved, not for every commit of the others.
            let value = committed.min(producer.watch.emitted.load(Ordering::SeqCst));
            if value > producer.reported {
                producer.reported = value;
                producer.instance.committed(value);
            }
        }
        drop(stopped);
        reported = committed;
    }
}
