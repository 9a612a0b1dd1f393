//! An isolated instance on the host's side: the worker that runs it, and what to do when
//! that worker dies or hangs. Restarts follow `restart = { attempts, backoff }`: `attempts`
//! counts restarts in a row, so a worker that works for a while after a restart starts with
//! a clean slate. When they run out the instance is failed for good: a consumer's
//! batches then fail at once (the delivery stage dead-letters them, or counts and logs each
//! one when there is no dead-letter file), and the host's exit code at shutdown is 1.
//!
//! A consumer's worker is called from its delivery thread only, the way an in-process
//! instance is; on a death the same batch is handed to the new worker (at least once: the
//! cursor moves only after an answer). A producer's worker is served by [`producer`].

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use evhost_abi as evh;

use super::death::Death;
use super::events;
use super::process::{Created, Process, StartError};
use super::protocol::{Create, Message};
use crate::config::{InstanceConfig, IsolateConfig, Kind, GO_MIN_MEMORY};
use crate::delivery::retry::Backoff;
use crate::diagnostic::{Diagnostic, Location};
use crate::loader::{Delivered, FileId, HookError, InstanceHost};
use crate::log::Batch;
use crate::selection::{Key, Refusal};

/// An isolated instance.
pub struct Isolated {
    pub host: &'static InstanceHost,
    /// The plugin the worker runs, as it named itself.
    pub plugin: String,
    pub kind: Kind,
    /// The library file as it was when the instance was created, so that a reload can
    /// tell a replaced one (each worker start loads whatever file is there).
    pub file: Option<FileId>,
    pub(super) keeper: Keeper,
    /// The live worker, if any, and the restarts in a row.
    pub(super) slot: Mutex<Slot>,
    /// A producer's plugin has `on_run` (else `on_start`).
    pub(super) on_run: bool,
    /// A producer's plugin has `on_committed` (ABI 1.1).
    pub on_committed: bool,
    /// A producer's way to tell its worker to stop while another thread serves it.
    pub(super) stop: super::producer::Line,
}

#[derive(Default)]
pub(super) struct Slot {
    pub process: Option<Process>,
    /// Deaths since the last hook call that worked.
    pub streak: u32,
}

/// What it takes to start and restart the worker, and its fate.
pub(super) struct Keeper {
    pub create: Create,
    pub config: IsolateConfig,
    /// `consumer "x" (libx.so)`, for messages.
    pub who: String,
    pub name: String,
    backoff: Backoff,
    /// Why it failed for good, once it did.
    failure: Mutex<Option<String>>,
    /// Set when a producer is asked to stop, or shutdown hurries a consumer: a restart's
    /// backoff ends at once.
    stopping: Mutex<bool>,
    woken: Condvar,
    /// The restart under way, from the death until a new worker took over: for /readyz,
    /// which would otherwise see a consumer's delivery call waiting out the backoff as stuck.
    restart: Mutex<Option<Restart>>,
}

/// Why the worker is being restarted, and when the next one starts.
struct Restart {
    why: String,
    next: Instant,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every field is written whole; a panic elsewhere leaves them consistent.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Keeper {
    pub fn failure(&self) -> Option<String> {
        lock(&self.failure).clone()
    }

    /// Starts the worker into `slot`, when it has none. False when it could not be started:
    /// the death is counted (and waited out), or the instance failed for good.
    pub fn ensure(&self, slot: &mut Slot) -> bool {
        if slot.process.is_some() {
            return true;
        }
        if self.failure().is_some() {
            return false;
        }
        match Process::start(self.create.clone(), self.config.max_memory, self.timeout("on_create")) {
            Ok((process, _)) => {
                slot.process = Some(process);
                // A producer's worker has taken over once it runs; a consumer's once it
                // answered the batch again (`recovered`): until then its delivery call, begun
                // before the death, would look stuck.
                if !self.create.consumer {
                    *lock(&self.restart) = None;
                }
                true
            }
            Err(StartError::Died(death)) => {
                self.died(slot, &death, "on_create");
                false
            }
            // It worked before: what fails now may be passing (a service down), so it is
            // tried again like a crash.
            Err(StartError::Refused { status, message, .. }) => {
                self.died(slot, &Death::Refused(refusal(status, &message)), "on_create");
                false
            }
            Err(StartError::Spawn(e)) => {
                self.fail(format!("cannot start a worker process: {e}"));
                false
            }
        }
    }

    pub fn timeout(&self, hook: &str) -> Duration {
        self.config.timeout(hook).unwrap_or(Duration::MAX)
    }

    /// The worker died in `hook`: report it, and wait before the next start, or fail the
    /// instance when the restarts ran out.
    pub fn died(&self, slot: &mut Slot, death: &Death, hook: &str) {
        slot.process = None;
        slot.streak += 1;
        let reason = death.describe(self.config.max_memory);
        let label = death.label(self.config.max_memory);
        crate::stats::worker_restarted(&self.name, label);
        let attempts = self.config.restart_attempts;
        if slot.streak > attempts {
            tracing::error!(instance = %self.name, hook, reason = label, "{}: its worker died in {hook} ({reason}); no restarts left ({attempts} in a row), so the instance has failed", self.who);
            self.fail(format!("its worker died in {hook} ({reason}), {} times in a row", slot.streak));
            return;
        }
        let delay = self.backoff.delay(slot.streak);
        tracing::error!(instance = %self.name, hook, reason = label, "{}: its worker died in {hook} ({reason}); restarting it in {delay:.0?} (restart {} of {attempts})", self.who, slot.streak);
        let why = format!("its worker died in {hook} ({reason}); restart {} of {attempts}", slot.streak);
        *lock(&self.restart) = Some(Restart { why, next: Instant::now() + delay });
        let stopping = lock(&self.stopping);
        let _ = self.woken.wait_timeout_while(stopping, delay, |stopping| !*stopping);
    }

    /// A hook call answered: the worker works, and the restarts in a row start again at 0.
    pub fn recovered(&self, slot: &mut Slot) {
        slot.streak = 0;
        *lock(&self.restart) = None;
    }

    /// The restart under way, in words: `restarting: its worker died in on_events (...);
    /// restart 1 of 5, next try in 3s`.
    pub fn restarting(&self) -> Option<String> {
        if self.failure().is_some() {
            return None;
        }
        let restart = lock(&self.restart);
        let Restart { why, next } = restart.as_ref()?;
        let left = next.saturating_duration_since(Instant::now());
        Some(if left.is_zero() {
            format!("restarting: {why}, under way")
        } else {
            format!("restarting: {why}, next try in {:.0?}", left.max(Duration::from_secs(1)))
        })
    }

    /// The worker died in `hook` while the instance was being stopped: it is not restarted,
    /// and the instance has failed (its flush, or its producer's last work, did not finish),
    /// so the run's exit code is 1. Returns why, in words.
    pub fn died_stopping(&self, slot: &mut Slot, death: &Death, hook: &str) -> String {
        slot.process = None;
        let reason = death.describe(self.config.max_memory);
        // Not counted as a restart: there is none.
        let label = death.label(self.config.max_memory);
        tracing::error!(instance = %self.name, hook, reason = label, "{}: its worker died in {hook} ({reason}) as it was being stopped; it is not restarted", self.who);
        let failure = format!("its worker died in {hook} ({reason})");
        self.fail(failure.clone());
        failure
    }

    /// A stop was asked for: a backoff under way ends now.
    pub fn wake(&self) {
        *lock(&self.stopping) = true;
        self.woken.notify_all();
    }

    fn fail(&self, reason: String) {
        lock(&self.failure).get_or_insert(reason);
    }
}

/// A refused `on_create`, in words.
fn refusal(status: i32, message: &str) -> String {
    HookError::from_wire(status, message.to_string(), String::new()).to_string()
}

impl Isolated {
    /// Starts the worker for `entry` and creates the instance in it. A plugin that refuses
    /// (the library does not load, `on_create` fails) is a setup error, as it is in-process;
    /// a worker that dies while creating is restarted, and when it keeps dying the instance
    /// starts out failed, so the others still run.
    pub fn create(
        entry: &InstanceConfig,
        config: &IsolateConfig,
        host: &'static InstanceHost,
        max_event_bytes: usize,
    ) -> Result<Isolated, Diagnostic> {
        let file = entry.library.file_name().unwrap_or(entry.library.as_os_str()).to_string_lossy().into_owned();
        let keeper = Keeper {
            create: Create {
                library: entry.library.to_string_lossy().into_owned(),
                plugin: entry.plugin.clone().unwrap_or_default(),
                consumer: entry.kind == Kind::Consumer,
                name: entry.name.clone(),
                config_json: entry.config_json.clone(),
                config_dir: entry.config_dir.to_string_lossy().into_owned(),
                max_event_bytes: max_event_bytes as u64,
                log_capacity: host.log_limits().map_or(0, |(events, _)| events as u64),
                log_max_bytes: host.log_limits().map_or(0, |(_, bytes)| bytes as u64),
            },
            config: config.clone(),
            who: format!("{} \"{}\" ({file}, isolated)", entry.kind, entry.name),
            name: entry.name.clone(),
            backoff: Backoff { first: config.backoff_first, max: config.backoff_max },
            failure: Mutex::new(None),
            stopping: Mutex::new(false),
            woken: Condvar::new(),
            restart: Mutex::new(None),
        };
        if let (Some(limit), Some(span)) = (config.max_memory, &config.max_memory_span) {
            if limit < GO_MIN_MEMORY && crate::loader::carries_go_runtime(&entry.library).unwrap_or(false) {
                return Err(Diagnostic::new(format!(
                    "`max_memory` is too small for {file}, a Go library: the Go runtime takes about 100 MiB of memory when it starts, before the plugin allocates anything"
                ))
                .at(Some(Location { file: entry.name_at.file.clone(), span: span.clone() }))
                .help("give a Go library at least max_memory = \"128MiB\", plus what the plugin itself needs"));
            }
        }
        let mut slot = Slot::default();
        let created = loop {
            match Process::start(keeper.create.clone(), config.max_memory, keeper.timeout("on_create")) {
                Ok((process, created)) => {
                    slot.process = Some(process);
                    // Created at last: nothing is waiting on a restart any more.
                    *lock(&keeper.restart) = None;
                    break created;
                }
                Err(StartError::Refused { status: 0, message, help, config_key, .. }) => {
                    let at = Key::parse(&config_key).unwrap_or(Key::Library);
                    return Err(Refusal { message, help, at }.diagnostic(entry));
                }
                Err(StartError::Refused { status, plugin, message, config_key, .. }) => {
                    let e = HookError::from_wire(status, message, config_key);
                    return Err(crate::startup::create_failed(entry, &plugin, e));
                }
                Err(StartError::Spawn(e)) => {
                    return Err(Diagnostic::new(format!(
                        "cannot start the worker process of {} \"{}\": {e}",
                        entry.kind, entry.name
                    ))
                    .at(Some(entry.name_at.clone()))
                    .help("check that the evhost binary is still in place and the system allows another process"))
                }
                Err(StartError::Died(death)) => {
                    keeper.died(&mut slot, &death, "on_create");
                    if keeper.failure().is_some() {
                        let plugin = entry.plugin.clone().unwrap_or_default();
                        break Created { plugin, on_run: true, on_committed: false };
                    }
                }
            }
        };
        Ok(Isolated {
            host,
            plugin: created.plugin,
            kind: entry.kind,
            file: FileId::of(&entry.library),
            on_run: created.on_run,
            on_committed: created.on_committed,
            keeper,
            slot: Mutex::new(slot),
            stop: Default::default(),
        })
    }

    /// Why it failed for good, if it did.
    pub fn failure(&self) -> Option<String> {
        self.keeper.failure().map(|reason| format!("{}: {reason}", self.keeper.who))
    }

    /// Consumer: hands the events `from..` of `batch` to the worker's `on_events`, through
    /// crashes and hangs (see the module doc).
    pub fn deliver(&self, batch: &Batch, from: usize) -> Delivered {
        let mut slot = lock(&self.slot);
        let timeout = Some(self.keeper.timeout("on_events"));
        loop {
            if !self.keeper.ensure(&mut slot) {
                if let Some(reason) = self.keeper.failure() {
                    self.host.set_error(format!("the isolated instance has failed: {reason}"));
                    return Delivered { status: evh::EVH_FAIL, handled: 0 };
                }
                continue;
            }
            let process = slot.process.as_mut().expect("ensured");
            let first_seq = batch.first_seq() + from as u64;
            let answer = process.call_events(first_seq, |out| events::encode(batch.iter_from(from), out), timeout);
            match answer {
                Ok(Message::Delivered { status, handled, error }) => {
                    self.keeper.recovered(&mut slot);
                    if !error.is_empty() {
                        self.host.set_error(error);
                    }
                    return Delivered { status, handled: usize::try_from(handled).unwrap_or(usize::MAX) };
                }
                Ok(other) => {
                    let death = process.kill(Death::Broken(format!("it answered {other:?} to on_events")));
                    self.keeper.died(&mut slot, &death, "on_events");
                }
                Err(death) => self.keeper.died(&mut slot, &death, "on_events"),
            }
        }
    }

    /// Producer: tells the worker's `on_committed` the watermark (from the commit
    /// notifier's thread). A worker being restarted misses it; the next one has a newer one.
    pub fn committed(&self, committed: u64) {
        self.stop.tell(&Message::Committed { seq: committed });
    }

    /// The restart under way, if its worker died and a new one has not taken over yet.
    pub fn restarting(&self) -> Option<String> {
        self.keeper.restarting()
    }

    /// Shutdown began: a backoff under way ends now, and later ones are skipped, so a
    /// consumer restarts and drains (or spends its restarts and fails, and what it did not
    /// get is dead-lettered) within the drain timeout instead of sleeping past it.
    pub fn hurry(&self) {
        self.keeper.wake();
    }

    /// Asks a producer to stop; lets a consumer flush (`on_stop`).
    pub fn stop(&self) {
        match self.kind {
            Kind::Producer => {
                self.stop.request_stop();
                self.keeper.wake();
            }
            Kind::Consumer => self.stop_consumer(),
        }
    }

    /// Consumer: `on_stop`, when the worker is alive; a death now (a crash, or a hang past
    /// `hook_timeout`) is reported and fails the instance, not restarted.
    fn stop_consumer(&self) {
        let mut slot = lock(&self.slot);
        let timeout = Some(self.keeper.timeout("on_stop"));
        if let Some(process) = slot.process.as_mut() {
            if let Err(death) = process.call(&Message::Stop, timeout) {
                self.keeper.died_stopping(&mut slot, &death, "on_stop");
            }
        }
    }
}
