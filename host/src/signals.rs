//! Signals. SIGTERM and SIGINT are blocked in the main thread before any other thread starts
//! or any plugin loads, so every thread, Go's included, inherits the block; one thread, the
//! signal thread, takes them with sigwait from the start of every command, before anything
//! loads, so they work whatever the other threads are stuck in. No handler runs on a plugin's stack, and a plugin
//! that installs its own handler (Go's `signal.Notify`) cannot take them from the host.
//!
//! The first signal asks for an orderly stop ([`Watch::on_signal`]). A second one, or the
//! stop taking longer than its limit (`[host] drain_timeout`), ends the process at once with
//! exit code 1 and a message naming the plugin code the host is stuck in.
//!
//! SIGHUP asks for a reload ([`Watch::on_reload`]) and is taken the same way; one that comes
//! before `run` listens is kept and handed over when it does (never dropped), and one that
//! comes once a stop began is ignored.
//!
//! Crashes (SIGSEGV and its kind) are the other half: see [`crash`].

pub mod crash;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::libc;
use nix::sys::signal::{SigSet, Signal};

use crate::config::DEFAULT_DRAIN_TIMEOUT;

/// The shutdown signals, blocked in this thread (call it first in `main`).
pub struct ShutdownSignals(SigSet);

/// Told the first signal's name.
type Listener = Box<dyn Fn(&'static str) + Send>;

/// Told each SIGHUP.
type Reload = Box<dyn Fn() + Send>;

/// What the signal thread shares with the rest of the host.
struct Shared {
    /// The first signal, once it came.
    first: Mutex<Option<&'static str>>,
    /// Told about the first signal.
    listener: Mutex<Option<Listener>>,
    /// How long the stop may take after the first signal.
    limit: Mutex<Limit>,
    /// Told each SIGHUP; until there is one, `true` keeps a SIGHUP that came.
    reload: Mutex<(Option<Reload>, bool)>,
}

/// How long a stop may take after the first signal.
#[derive(Clone, Copy)]
struct Limit {
    drain_timeout: Duration,
    grace: Duration,
}

impl Limit {
    fn total(self) -> Duration {
        self.drain_timeout.saturating_add(self.grace)
    }
}

/// The running signal thread.
pub struct Watch(Arc<Shared>);

impl ShutdownSignals {
    pub fn block() -> std::io::Result<Self> {
        let mut set = SigSet::empty();
        set.add(Signal::SIGTERM);
        set.add(Signal::SIGINT);
        set.add(Signal::SIGHUP);
        set.thread_block().map_err(std::io::Error::from)?;
        Ok(ShutdownSignals(set))
    }

    /// Starts the signal thread. Until [`Watch::set_limit`], a stop may take the default
    /// drain timeout.
    pub fn watch(self) -> std::io::Result<Watch> {
        let shared = Arc::new(Shared {
            first: Mutex::new(None),
            listener: Mutex::new(None),
            limit: Mutex::new(Limit { drain_timeout: DEFAULT_DRAIN_TIMEOUT, grace: Duration::ZERO }),
            reload: Mutex::new((None, false)),
        });
        let watched = shared.clone();
        let (ready, started) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new().name("signals".into()).spawn(move || {
            // A thread's first use of thread-locals with destructors (std's own at start,
            // stderr's) registers them under the dynamic loader's lock, which a library whose
            // constructor hangs holds for ever. So all of that happens now, before `watch`
            // returns and any library loads.
            eprint!("");
            let _ = ready.send(());
            self.run(&watched)
        })?;
        started.recv().map_err(|_| std::io::Error::other("the signal thread ended at start"))?;
        Ok(Watch(shared))
    }

    fn run(self, shared: &Shared) {
        let first = loop {
            match self.wait() {
                "SIGHUP" => {
                    let mut reload = lock(&shared.reload);
                    match &reload.0 {
                        Some(listener) => listener(),
                        None => reload.1 = true,
                    }
                }
                first => break first,
            }
        };
        let since = Instant::now();
        {
            // Under the listener's lock, as `on_signal` reads: the listener runs exactly once.
            let listener = lock(&shared.listener);
            *lock(&shared.first) = Some(first);
            if let Some(listener) = listener.as_ref() {
                listener(first);
            }
        }
        // After the listener: whoever reads the note knows the stop is under way.
        if !lock(&shared.limit).total().is_zero() {
            // Not through tracing: its first line on a thread registers a thread-local
            // destructor, which takes the dynamic loader's lock, held for as long as a
            // library's constructor hangs in dlopen. eprintln needs no such thing.
            eprintln!("note: {first} received; stopping (another SIGTERM or SIGINT ends the process at once)");
        }
        loop {
            let limit = *lock(&shared.limit);
            let left = limit.total().saturating_sub(since.elapsed());
            if left.is_zero() {
                let Limit { drain_timeout, grace } = limit;
                let reason = match (drain_timeout.is_zero(), grace.is_zero()) {
                    (true, true) => format!("{first} received"),
                    (false, true) => format!("{first} received, and the stop did not finish within the drain timeout ({drain_timeout:?})"),
                    _ => format!("{first} received, and the stop did not finish within the drain timeout ({drain_timeout:?}) and {grace:?} more for on_stop and on_destroy"),
                };
                give_up(&reason);
            }
            // Wakes up by the time the limit ends, or earlier to read a new one.
            if let Some(second) = self.wait_for(left.min(Duration::from_secs(1))).filter(|s| *s != "SIGHUP") {
                let reason = if second == first {
                    format!("{second} received twice")
                } else {
                    format!("{second} received after {first}")
                };
                give_up(&reason);
            }
        }
    }

    /// Waits for the next SIGTERM, SIGINT or SIGHUP and returns its name.
    fn wait(&self) -> &'static str {
        match self.0.wait() {
            Ok(signal) => signal.as_str(),
            Err(_) => "SIGTERM",
        }
    }

    /// Waits at most `timeout` for the next SIGTERM, SIGINT or SIGHUP.
    fn wait_for(&self, timeout: Duration) -> Option<&'static str> {
        let timeout = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: the set and the timeout are valid for the call; the info pointer may be NULL.
        let number = unsafe { libc::sigtimedwait(self.0.as_ref(), std::ptr::null_mut(), &timeout) };
        Signal::try_from(number).ok().map(Signal::as_str)
    }
}

/// Ends the process: the orderly stop is not going to finish. Says which plugin code every
/// busy thread is in, longest first, since one of them holds the stop up.
fn give_up(reason: &str) -> ! {
    let busy = crate::loader::busy();
    let stuck = if busy.is_empty() {
        "before the orderly stop finished".to_string()
    } else {
        let list: Vec<String> = busy.iter().map(ToString::to_string).collect();
        format!("while {}", list.join(", and "))
    };
    eprintln!("error: {reason}; giving up {stuck}");
    // SAFETY: _exit ends the process without running exit handlers. On purpose: a thread is
    // stuck in plugin code, perhaps holding a lock that a library's exit handler would wait for.
    unsafe { libc::_exit(1) }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Watch {
    /// The first shutdown signal, when one came.
    pub fn received(&self) -> Option<&'static str> {
        *lock(&self.0.first)
    }

    /// Calls `listener` with the first signal's name when it comes (at once if it came).
    pub fn on_signal(&self, listener: impl Fn(&'static str) + Send + 'static) {
        let mut slot = lock(&self.0.listener);
        if let Some(first) = self.received() {
            listener(first);
        }
        *slot = Some(Box::new(listener));
    }

    /// Calls `listener` on each SIGHUP (at once for one that came before).
    pub fn on_reload(&self, listener: impl Fn() + Send + 'static) {
        let mut reload = lock(&self.0.reload);
        if std::mem::take(&mut reload.1) {
            listener();
        }
        reload.0 = Some(Box::new(listener));
    }

    /// How long the stop may take after the first signal before the host gives up: the
    /// drain timeout, and `grace` more once the drain keeps its own deadline (so that its
    /// report comes first) and on_stop and on_destroy still have to run.
    pub fn set_limit(&self, drain_timeout: Duration, grace: Duration) {
        *lock(&self.0.limit) = Limit { drain_timeout, grace };
    }
}
