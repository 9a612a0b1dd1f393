//! The host API table every library receives, and the per-instance state behind the opaque
//! `evh_host` handle. Every callback is an `extern "C"` entry from plugin code: it checks
//! its arguments and never lets a panic unwind into the plugin.
//!
//! The handle outlives its instance: plugins may leave threads behind that still call the
//! host after `on_destroy` (libraries are never unloaded, so their code keeps running). The
//! record behind the handle is therefore never freed; after `on_destroy` it is dead, and
//! every callback answers `EVH_STOPPED` or does nothing.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use evhost_abi::{self as evh, evh_event, evh_host, evh_host_api, evh_log_level, evh_status, evh_str};

#[cfg(feature = "bench")]
use super::bench::Baseline;
use super::claim::{self, Claims};
use super::commits::Watch;
use super::config_api;
use super::{copy_text, ingest};
use crate::config::plugin_config::PluginConfig;
use crate::log::{AppendError, ChunkBuilder, Commit, Log};
use crate::logging::escape;
use crate::stats::Stats;
use std::ops::Range;

/// Where a producer instance's events go.
pub enum EmitTarget {
    /// The log: what `emit` takes is checked and copied (`ingest`), then appended.
    Log { log: Arc<Log>, max_event_bytes: usize },
    /// One of the benchmark's in-process baselines instead of the log (`make bench`).
    #[cfg(feature = "bench")]
    Baseline(Baseline),
    /// In an isolated producer's worker: checked and copied as for the log, then handed to
    /// the host that runs the worker (crate::isolate), which appends them.
    Forward { forward: Box<dyn Forward>, max_event_bytes: usize },
}

/// Where a worker's producer sends what it emits: the host's log, over the worker's socket.
pub trait Forward: Send + Sync {
    /// Appends a checked batch with the emit's `flags`: its ticket, or the status and the
    /// host's message.
    fn emit(&self, batch: ChunkBuilder, flags: u32) -> Result<u64, (evh_status, String)>;
    /// `wait_committed` on the host's log; `ticket` 0 with timeout 0 asks for the watermark.
    fn wait_committed(&self, ticket: u64, timeout_ms: u64) -> (evh_status, u64);
    /// The host's log's capacity and max_bytes, for `claim` to refuse what never fits.
    fn limits(&self) -> (usize, usize);
}

impl EmitTarget {
    /// The normal target: the log.
    pub fn log(log: Arc<Log>, max_event_bytes: usize) -> EmitTarget {
        EmitTarget::Log { log, max_event_bytes }
    }
}

/// The host's side of one instance; plugins see it as `evh_host *`.
pub struct InstanceHost {
    pub name: String,
    stop: AtomicBool,
    /// Set after `on_destroy` (or a failed `on_create`): the handle answers, but does nothing.
    dead: AtomicBool,
    error: Mutex<Option<String>>,
    /// What the instance did, for the summary, the report and the metrics.
    pub stats: Stats,
    /// Taken out when the instance dies, unless an emit is using it at that moment.
    pub(super) target: RwLock<Option<EmitTarget>>,
    /// Set when the producer has an `on_committed` hook and the commit notifier runs: what
    /// it emits is reported there.
    pub(super) watch: OnceLock<Arc<Watch>>,
    /// The highest ticket this instance was handed (ABI 1.1): `wait_committed` refuses a
    /// higher one, which could be waited for forever.
    issued: AtomicU64,
    /// The instance's parsed config while its `on_create` runs, for the config accessors;
    /// the strings they hand out borrow it, so it is dropped only after `on_create` returned.
    config: Mutex<Option<Arc<PluginConfig>>>,
    /// The key path of the last config mistake an accessor found, for the host's diagnostic
    /// to point at.
    config_key: Mutex<Option<String>>,
    /// The instance's open claims (ABI 1.2). Kept after the instance dies, like the record:
    /// a plugin thread may still be writing into one.
    pub(super) claims: Mutex<Claims>,
}

impl InstanceHost {
    /// The record lives until the process ends, deliberately: a plugin thread may call the
    /// handle at any time, even after `on_destroy`, and a freed record would make that call
    /// a use-after-free. It is a few dozen bytes per instance; what it points to (the target)
    /// is released when the instance dies.
    pub fn new(name: &str, target: Option<EmitTarget>) -> &'static Self {
        Box::leak(Box::new(InstanceHost {
            name: name.to_string(),
            stop: AtomicBool::new(false),
            dead: AtomicBool::new(false),
            error: Mutex::new(None),
            stats: Stats::default(),
            target: RwLock::new(target),
            watch: OnceLock::new(),
            issued: AtomicU64::new(0),
            config: Mutex::new(None),
            config_key: Mutex::new(None),
            claims: Mutex::new(Claims::default()),
        }))
    }

    /// The handle given to the plugin; valid for the life of the process.
    pub(super) fn handle(&'static self) -> *mut evh_host {
        self as *const Self as *mut evh_host
    }

    /// The instance is gone: from now on the handle is valid but dead.
    pub(super) fn retire(&self) {
        self.stop.store(true, Ordering::Release);
        self.dead.store(true, Ordering::Release);
        // Never wait here: an emit blocked on a full log would hold this up. If one is in
        // flight, the target simply stays; every later call sees `dead` first.
        if let Ok(mut target) = self.target.try_write() {
            target.take();
        }
    }

    pub(super) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// The message the plugin recorded with `set_error` since the last call, if any.
    pub fn take_error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Sets (Some, before `on_create`) or drops (None, after it returned) the config the
    /// accessors read.
    pub(super) fn set_config(&self, config: Option<Arc<PluginConfig>>) {
        if config.is_some() {
            self.take_config_key();
        }
        *self.config.lock().unwrap_or_else(|e| e.into_inner()) = config;
    }

    pub(super) fn set_config_key(&self, key: &str) {
        *self.config_key.lock().unwrap_or_else(|e| e.into_inner()) = Some(key.to_string());
    }

    /// The key of the last config mistake an accessor found during `on_create`.
    pub(super) fn take_config_key(&self) -> Option<String> {
        self.config_key.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// The config the accessors read, while `on_create` runs.
    pub(super) fn config(&self) -> Option<Arc<PluginConfig>> {
        self.config.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records a message for the next `take_error`, escaped (see crate::logging): messages
    /// quote plugin and client text, and end up in log lines and error messages.
    pub fn set_error(&self, message: String) {
        let message = escape(&message).into_owned();
        *self.error.lock().unwrap_or_else(|e| e.into_inner()) = Some(message);
    }
}

impl InstanceHost {
    /// An isolated producer's emit, on the host (crate::isolate): its worker checked and
    /// copied the batch as `emit` does; this appends it to the instance's log, as `emit`
    /// does. The ticket, or the status `emit` returns (the message is in `take_error`).
    pub fn append_forwarded(&self, batch: ChunkBuilder, flags: u32) -> Result<u64, evh_status> {
        if self.is_dead() {
            return Err(evh::EVH_STOPPED);
        }
        let target = self.target.read().unwrap_or_else(|e| e.into_inner());
        let Some(EmitTarget::Log { log, .. }) = &*target else { return Err(evh::EVH_STOPPED) };
        let mut appended = 0..0;
        let status = append_checked(self, batch, flags, |batch, block| {
            appended = log.append(batch, block)?;
            Ok(())
        });
        if status != evh::EVH_OK {
            return Err(status);
        }
        self.appended(log, appended, flags)
    }

    /// The capacity and max_bytes of the log a producer emits into, for its worker.
    pub fn log_limits(&self) -> Option<(usize, usize)> {
        match &*self.target.read().unwrap_or_else(|e| e.into_inner()) {
            Some(EmitTarget::Log { log, .. }) => Some(log.limits()),
            _ => None,
        }
    }

    /// `wait_committed` on the instance's log, for an isolated producer's worker: the
    /// status, and the watermark.
    pub fn wait_forwarded(&self, ticket: u64, timeout_ms: u64) -> (evh_status, u64) {
        let target = self.target.read().unwrap_or_else(|e| e.into_inner());
        let Some(EmitTarget::Log { log, .. }) = &*target else { return (evh::EVH_STOPPED, 0) };
        if ticket == 0 {
            return (evh::EVH_OK, log.committed());
        }
        let until = match timeout_ms {
            evh::EVH_WAIT_FOREVER => None,
            ms => Instant::now().checked_add(Duration::from_millis(ms)),
        };
        let status = match log.wait_committed(ticket, until) {
            Commit::Committed => evh::EVH_OK,
            Commit::TimedOut => evh::EVH_BUSY,
            Commit::Stopped => evh::EVH_STOPPED,
        };
        (status, log.committed())
    }
}

/// The table handed to `evh_library_init` and to every `on_create`.
pub static HOST_API: evh_host_api = evh_host_api {
    struct_size: evh::struct_size::<evh_host_api>(),
    abi_major: evh::EVH_ABI_VERSION_MAJOR,
    abi_minor: evh::EVH_ABI_VERSION_MINOR,
    emit: Some(emit),
    set_error: Some(set_error),
    log: Some(log),
    stop_requested: Some(stop_requested),
    status_name: Some(status_name),
    emit_tracked: Some(emit_tracked),
    committed: Some(committed),
    wait_committed: Some(wait_committed),
    config_string: Some(config_api::config_string),
    config_int: Some(config_api::config_int),
    config_uint: Some(config_api::config_uint),
    config_float: Some(config_api::config_float),
    config_bool: Some(config_api::config_bool),
    config_duration_us: Some(config_api::config_duration_us),
    config_size: Some(config_api::config_size),
    config_len: Some(config_api::config_len),
    config_keys: Some(config_api::config_keys),
    claim: Some(claim::claim),
    publish: Some(claim::publish),
    abandon: Some(claim::abandon),
};

/// Resolves a handle to its instance, or None for NULL.
///
/// # Safety
/// `host` must be NULL or a handle from [`InstanceHost::handle`]; those are never freed.
pub(super) unsafe fn instance<'a>(host: *mut evh_host) -> Option<&'a InstanceHost> {
    // SAFETY: forwarded from the caller.
    unsafe { (host as *const InstanceHost).as_ref() }
}

unsafe extern "C" fn emit(host: *mut evh_host, events: *const evh_event, n: usize, flags: u32) -> evh_status {
    // SAFETY: forwarded from the plugin, under the same contract.
    let call = AssertUnwindSafe(|| unsafe { emit_batch(host, events, n, flags) }.err().unwrap_or(evh::EVH_OK));
    catch_unwind(call).unwrap_or(evh::EVH_ERR_INTERNAL)
}

unsafe extern "C" fn emit_tracked(
    host: *mut evh_host,
    events: *const evh_event,
    n: usize,
    flags: u32,
    ticket_out: *mut u64,
) -> evh_status {
    let call = AssertUnwindSafe(|| {
        if ticket_out.is_null() {
            // SAFETY: plugins pass back the handle they were given.
            if let Some(host) = unsafe { instance(host) } {
                host.set_error("emit_tracked: ticket_out is NULL; pass a pointer to a uint64_t".into());
            }
            return evh::EVH_ERR_INVALID_ARGUMENT;
        }
        // SAFETY: forwarded from the plugin, under the emit contract.
        match unsafe { emit_batch(host, events, n, flags) } {
            Ok(ticket) => {
                // SAFETY: non-NULL, and the ABI makes it writable for the call; written only on success.
                unsafe { ticket_out.write(ticket) };
                evh::EVH_OK
            }
            Err(status) => status,
        }
    });
    catch_unwind(call).unwrap_or(evh::EVH_ERR_INTERNAL)
}

/// What `emit` and `emit_tracked` share: appends the batch, tells the commit notifier, and
/// with `EVH_EMIT_COMMIT` waits for the commit. The batch's ticket (its last sequence number;
/// the watermark for an empty batch), or the status to return.
///
/// # Safety
/// `host` must be NULL or a handle the host gave out; `events` holds `n` events valid for
/// the call (the ABI's emit contract).
unsafe fn emit_batch(host: *mut evh_host, events: *const evh_event, n: usize, flags: u32) -> Result<u64, evh_status> {
    // SAFETY: plugins pass back the handle they were given.
    let Some(host) = (unsafe { instance(host) }) else { return Err(evh::EVH_ERR_INVALID_ARGUMENT) };
    if host.is_dead() {
        return Err(evh::EVH_STOPPED);
    }
    let target = host.target.read().unwrap_or_else(|e| e.into_inner());
    match &*target {
        Some(EmitTarget::Log { log, max_event_bytes }) => {
            let mut appended = 0..0;
            // SAFETY: forwarded from the caller.
            let status = unsafe {
                check_and_append(host, events, n, flags, *max_event_bytes, |batch, block| {
                    appended = log.append(batch, block)?;
                    Ok(())
                })
            };
            if status != evh::EVH_OK {
                return Err(status);
            }
            host.appended(log, appended, flags)
        }
        Some(EmitTarget::Forward { forward, max_event_bytes }) => {
            // SAFETY: forwarded from the caller.
            let batch = match unsafe { ingest::read_batch(events, n, *max_event_bytes) } {
                Ok(batch) => batch,
                Err(refused) => return Err(host.refused("emit", refused)),
            };
            let ticket = forward.emit(batch, flags).map_err(|(status, message)| {
                if !message.is_empty() {
                    host.set_error(message);
                }
                status
            })?;
            host.issue(ticket);
            Ok(ticket)
        }
        // SAFETY: forwarded from the caller. A baseline has no log: what it took is done.
        #[cfg(feature = "bench")]
        Some(EmitTarget::Baseline(baseline)) => match unsafe { baseline.emit(host, events, n, flags) } {
            evh::EVH_OK => Ok(0),
            status => Err(status),
        },
        // Taken by retire between the check above and the read lock.
        None if host.is_dead() => Err(evh::EVH_STOPPED),
        None => {
            host.set_error("emit: this instance is a consumer; only producers can emit".into());
            Err(evh::EVH_ERR_UNSUPPORTED)
        }
    }
}

impl InstanceHost {
    /// `ticket` was handed to the plugin: `wait_committed` may wait for it from now on.
    pub(super) fn issue(&self, ticket: u64) {
        self.issued.fetch_max(ticket, Ordering::AcqRel);
    }

    /// What follows an append of `emit`, `emit_tracked` or `publish`: hands out the batch's
    /// ticket, tells the commit notifier, and with `EVH_EMIT_COMMIT` waits for the commit.
    pub(super) fn appended(&self, log: &Log, appended: Range<u64>, flags: u32) -> Result<u64, evh_status> {
        let ticket = if appended.is_empty() { log.committed() } else { appended.end - 1 };
        self.issue(ticket);
        if appended.is_empty() {
            return Ok(ticket);
        }
        if let Some(watch) = self.watch.get() {
            watch.emitted(ticket);
        }
        if flags & evh::EVH_EMIT_COMMIT != 0 && log.wait_committed(ticket, None) != Commit::Committed {
            self.set_error(format!("the host stopped before events {} to {ticket} were committed", appended.start));
            return Err(evh::EVH_STOPPED);
        }
        Ok(ticket)
    }

    /// Counts, logs and records a refused batch of `call` (emit, publish), and answers its
    /// status.
    #[cold]
    pub(super) fn refused(&self, call: &str, ingest::Refused(status, message): ingest::Refused) -> evh_status {
        Stats::add(&self.stats.errors, 1);
        self.stats.note_error(&format!("{call} refused: {message}"));
        tracing::warn!(instance = %self.name, "{call} refused: {message}");
        self.set_error(message);
        status
    }

    /// Counts an append of `events` and `bytes` by `call` (emit, publish) and answers the
    /// status for its outcome.
    pub(super) fn counted(&self, call: &str, result: Result<(), AppendError>, events: u64, bytes: u64) -> evh_status {
        match result {
            Ok(()) => {
                let stats = &self.stats;
                Stats::add(&stats.events, events);
                Stats::add(&stats.bytes, bytes);
                Stats::add(&stats.batches, 1);
                evh::EVH_OK
            }
            Err(AppendError::Full) => evh::EVH_BUSY,
            Err(AppendError::Stopped) => evh::EVH_STOPPED,
            Err(e @ AppendError::TooLarge { .. }) => {
                self.refused(call, ingest::Refused(evh::EVH_ERR_TOO_LARGE, e.to_string()))
            }
        }
    }
}

unsafe extern "C" fn committed(host: *mut evh_host) -> u64 {
    let call = AssertUnwindSafe(|| {
        // SAFETY: plugins pass back the handle they were given.
        let Some(host) = (unsafe { instance(host) }) else { return 0 };
        match &*host.target.read().unwrap_or_else(|e| e.into_inner()) {
            Some(EmitTarget::Log { log, .. }) if !host.is_dead() => log.committed(),
            Some(EmitTarget::Forward { forward, .. }) if !host.is_dead() => forward.wait_committed(0, 0).1,
            _ => 0,
        }
    });
    catch_unwind(call).unwrap_or(0)
}

unsafe extern "C" fn wait_committed(host: *mut evh_host, ticket: u64, timeout_ms: u64) -> evh_status {
    let call = AssertUnwindSafe(|| {
        // SAFETY: plugins pass back the handle they were given.
        let Some(host) = (unsafe { instance(host) }) else { return evh::EVH_ERR_INVALID_ARGUMENT };
        if host.is_dead() {
            return evh::EVH_STOPPED;
        }
        let target = host.target.read().unwrap_or_else(|e| e.into_inner());
        let issued = host.issued.load(Ordering::Acquire);
        let log = match &*target {
            Some(EmitTarget::Log { log, .. }) => log,
            Some(EmitTarget::Forward { forward, .. }) if ticket <= issued => {
                return forward.wait_committed(ticket, timeout_ms).0
            }
            Some(EmitTarget::Forward { .. }) => return never_issued(host, ticket, issued),
            #[cfg(feature = "bench")]
            Some(EmitTarget::Baseline(_)) => return evh::EVH_OK,
            None if host.is_dead() => return evh::EVH_STOPPED,
            None => {
                host.set_error("wait_committed: this instance is a consumer; only producers emit and wait".into());
                return evh::EVH_ERR_UNSUPPORTED;
            }
        };
        if ticket > issued {
            return never_issued(host, ticket, issued);
        }
        // A timeout too far to represent is no timeout.
        let until = match timeout_ms {
            evh::EVH_WAIT_FOREVER => None,
            ms => Instant::now().checked_add(Duration::from_millis(ms)),
        };
        match log.wait_committed(ticket, until) {
            Commit::Committed => evh::EVH_OK,
            Commit::TimedOut => evh::EVH_BUSY,
            Commit::Stopped => evh::EVH_STOPPED,
        }
    });
    catch_unwind(call).unwrap_or(evh::EVH_ERR_INTERNAL)
}

/// Checks and copies a producer's batch (`ingest`), hands the copy to `append` and answers
/// what `emit` returns. Generic over `append`, so that the log's append is a direct call.
///
/// # Safety
/// The ABI's emit contract: `events` holds `n` events, valid for this call.
#[inline]
pub(super) unsafe fn check_and_append(
    host: &InstanceHost,
    events: *const evh_event,
    n: usize,
    flags: u32,
    max_event_bytes: usize,
    append: impl FnOnce(ChunkBuilder, bool) -> Result<(), AppendError>,
) -> evh_status {
    // SAFETY: forwarded from the caller.
    let batch = match unsafe { ingest::read_batch(events, n, max_event_bytes) } {
        Ok(batch) => batch,
        Err(refused) => return host.refused("emit", refused),
    };
    append_checked(host, batch, flags, append)
}

/// The second half of [`check_and_append`]: appends a checked batch, counts it, and
/// answers what `emit` returns.
fn append_checked(
    host: &InstanceHost,
    batch: ChunkBuilder,
    flags: u32,
    append: impl FnOnce(ChunkBuilder, bool) -> Result<(), AppendError>,
) -> evh_status {
    let (events, bytes) = (batch.len() as u64, batch.bytes() as u64);
    host.counted("emit", append(batch, flags & evh::EVH_EMIT_NONBLOCK == 0), events, bytes)
}

/// `wait_committed` for a ticket the instance never had: it could wait forever.
fn never_issued(host: &InstanceHost, ticket: u64, issued: u64) -> evh_status {
    host.set_error(format!("wait_committed: ticket {ticket} was never handed to this instance (its last ticket is {issued}); pass what emit_tracked stored"));
    evh::EVH_ERR_INVALID_ARGUMENT
}

unsafe extern "C" fn set_error(host: *mut evh_host, message: evh_str) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the handle and the message view follow the ABI.
        match unsafe { instance(host) } {
            Some(host) if !host.is_dead() => {
                // The plugin's own message replaces an accessor's, and so does its key.
                host.take_config_key();
                host.set_error(unsafe { copy_text(message) });
            }
            _ => {}
        }
    }));
}

unsafe extern "C" fn log(host: *mut evh_host, level: evh_log_level, message: evh_str) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the handle and the message view follow the ABI.
        let host = unsafe { instance(host) };
        if host.is_some_and(InstanceHost::is_dead) {
            return;
        }
        let name = host.map_or("?", |h| h.name.as_str());
        let text = unsafe { copy_text(message) };
        match level {
            evh::EVH_LOG_ERROR => tracing::error!(instance = name, "{text}"),
            evh::EVH_LOG_WARN => tracing::warn!(instance = name, "{text}"),
            evh::EVH_LOG_INFO => tracing::info!(instance = name, "{text}"),
            evh::EVH_LOG_DEBUG => tracing::debug!(instance = name, "{text}"),
            _ => tracing::trace!(instance = name, "{text}"),
        }
    }));
}

unsafe extern "C" fn stop_requested(host: *mut evh_host) -> u32 {
    // SAFETY: plugins pass back the handle they were given. A NULL handle reads as "stop".
    unsafe { instance(host) }.map_or(1, |h| u32::from(h.stop.load(Ordering::Acquire)))
}

unsafe extern "C" fn status_name(status: evh_status) -> evh_str {
    evh_str::from_str(evh::status_name(status))
}
