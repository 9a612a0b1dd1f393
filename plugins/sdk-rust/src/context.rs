//! `Context`: an instance's link to the host — its names, the host's log, stop requests and
//! emitters. All calls into the host API table (other than `emit`'s batching) live here.

use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::time::Duration;

use evhost_abi::{
    evh_event, evh_host, evh_host_api, evh_log_level, evh_status, evh_str, EVH_LOG_DEBUG, EVH_LOG_ERROR, EVH_LOG_INFO,
    EVH_LOG_TRACE, EVH_LOG_WARN,
};

use crate::commit::Waiters;
use crate::emit::Emitter;

/// The host API entries the SDK calls, copied out of the host's table at `on_create`: an
/// entry appended after ABI 1.0 is read only when the table's `struct_size` covers it, so
/// against a 1.0 host it is `None`.
#[derive(Clone, Copy, Default)]
pub(crate) struct Api {
    emit: Option<unsafe extern "C" fn(*mut evh_host, *const evh_event, usize, u32) -> evh_status>,
    set_error: Option<unsafe extern "C" fn(*mut evh_host, evh_str)>,
    log: Option<unsafe extern "C" fn(*mut evh_host, evh_log_level, evh_str)>,
    stop_requested: Option<unsafe extern "C" fn(*mut evh_host) -> u32>,
    emit_tracked: Option<unsafe extern "C" fn(*mut evh_host, *const evh_event, usize, u32, *mut u64) -> evh_status>,
    committed: Option<unsafe extern "C" fn(*mut evh_host) -> u64>,
    wait_committed: Option<unsafe extern "C" fn(*mut evh_host, u64, u64) -> evh_status>,
}

impl Api {
    /// # Safety
    /// `api` must be NULL, or point to a host table of at least ABI 1.0's size whose
    /// `struct_size` says how much of it is readable.
    pub(crate) unsafe fn read(api: *const evh_host_api) -> Api {
        if api.is_null() {
            return Api::default();
        }
        // SAFETY: place reads through the raw pointer, each within the size the table
        // reports (the caller's promise); no reference to the whole 1.1 struct is made.
        unsafe {
            let size = (*api).struct_size as usize;
            let has_1_1 = size >= std::mem::size_of::<evh_host_api>();
            Api {
                emit: (*api).emit,
                set_error: (*api).set_error,
                log: (*api).log,
                stop_requested: (*api).stop_requested,
                emit_tracked: if has_1_1 { (*api).emit_tracked } else { None },
                committed: if has_1_1 { (*api).committed } else { None },
                wait_committed: if has_1_1 { (*api).wait_committed } else { None },
            }
        }
    }
}

/// The host handle of one instance, shared by its `Context` clones and emitters.
///
/// The handle is valid only until `on_destroy` returns, but a plugin may keep a `Context`
/// clone in a thread that outlives its instance. So every call goes through `with`, which
/// holds a read lock, and `close` (at `on_destroy`) clears the handle under the write lock:
/// after it, calls become no-ops instead of touching a freed handle.
pub(crate) struct HostCell {
    api: Api,
    host: RwLock<*mut evh_host>,
    /// The futures waiting for a commit, woken by the `on_committed` hook.
    pub(crate) waiters: Waiters,
    /// Set by `on_stop` and `on_destroy`; `wait_stop` sleeps on `stopping` until it is.
    stop: AtomicBool,
    stop_lock: Mutex<()>,
    stopping: Condvar,
}

// SAFETY: the ABI documents the host API and the `evh_host` handle as thread-safe, callable
// from any thread; the handle's lifetime is guarded by the lock (see above).
unsafe impl Send for HostCell {}
// SAFETY: as for Send; `&HostCell` only ever reads the API table and calls thread-safe hooks.
unsafe impl Sync for HostCell {}

impl HostCell {
    /// `api` is the host's table as read at `on_create`; `host` must be valid until `close`.
    pub(crate) fn new(api: Api, host: *mut evh_host) -> Self {
        HostCell {
            api,
            host: RwLock::new(host),
            waiters: Waiters::default(),
            stop: AtomicBool::new(false),
            stop_lock: Mutex::new(()),
            stopping: Condvar::new(),
        }
    }

    /// Runs `f` with the API entries and the live handle; `None` once the instance is gone.
    /// `host` stays live while the read lock is held.
    fn with<R>(&self, f: impl FnOnce(&Api, *mut evh_host) -> R) -> Option<R> {
        let host = self.host.read().unwrap_or_else(PoisonError::into_inner);
        if host.is_null() {
            return None;
        }
        Some(f(&self.api, *host))
    }

    /// Forgets the handle; called by `on_destroy` after the instance was dropped. Futures
    /// still waiting for a commit end with `EmitError::Stopped`.
    pub(crate) fn close(&self) {
        *self.host.write().unwrap_or_else(PoisonError::into_inner) = ptr::null_mut();
        self.waiters.close();
    }

    /// True when the host speaks ABI 1.1's commit entries; a 1.0 host commits what it
    /// accepts, so without them an accepted batch counts as committed.
    pub(crate) fn tracks_commits(&self) -> bool {
        self.api.emit_tracked.is_some() && self.api.committed.is_some() && self.api.wait_committed.is_some()
    }

    /// Wakes every `wait_stop`; called when the host asks the instance to stop, and before
    /// it is destroyed.
    pub(crate) fn signal_stop(&self) {
        // Under the lock, so that a waiter that has just found the flag unset is asleep
        // before the notification comes.
        let _lock = self.stop_lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.stop.store(true, Ordering::Release);
        self.stopping.notify_all();
    }

    /// Waits until the instance is asked to stop or `timeout` passes; true when asked.
    pub(crate) fn wait_stop(&self, timeout: Duration) -> bool {
        let lock = self.stop_lock.lock().unwrap_or_else(PoisonError::into_inner);
        let not_asked = |_: &mut ()| !self.stop.load(Ordering::Acquire);
        drop(self.stopping.wait_timeout_while(lock, timeout, not_asked).unwrap_or_else(PoisonError::into_inner));
        self.stop_requested()
    }

    pub(crate) fn log(&self, level: evh_log_level, message: &str) {
        self.with(|api, host| {
            if let Some(log) = api.log {
                // SAFETY: `host` is live (see `with`); the message view is valid for the
                // call and the host copies it.
                unsafe { log(host, level, evh_str::from_str(message)) }
            }
        });
    }

    pub(crate) fn set_error(&self, message: &str) {
        self.with(|api, host| {
            if let Some(set_error) = api.set_error {
                // SAFETY: as in `log`.
                unsafe { set_error(host, evh_str::from_str(message)) }
            }
        });
    }

    pub(crate) fn stop_requested(&self) -> bool {
        if self.stop.load(Ordering::Acquire) {
            return true;
        }
        self.with(|api, host| match api.stop_requested {
            // SAFETY: `host` is live (see `with`).
            Some(stop_requested) => unsafe { stop_requested(host) != 0 },
            None => false,
        })
        .unwrap_or(true)
    }

    /// Calls `api.emit` once for the whole slice; `None` when the instance is gone.
    pub(crate) fn emit(&self, events: &[evh_event], flags: u32) -> Option<evh_status> {
        self.with(|api, host| match api.emit {
            // SAFETY: `host` is live (see `with`); `events` and everything they point to are
            // valid for the call, all of one `struct_size`, and the host copies them.
            Some(emit) => unsafe { emit(host, events.as_ptr(), events.len(), flags) },
            None => evhost_abi::EVH_ERR_UNSUPPORTED,
        })
    }

    /// Calls `api.emit_tracked` once for the whole slice: the status and, on `EVH_OK`, the
    /// ticket; `None` when the instance is gone. Falls back to `emit` (ticket 0) on a 1.0 host.
    pub(crate) fn emit_tracked(&self, events: &[evh_event], flags: u32) -> Option<(evh_status, u64)> {
        self.with(|api, host| match api.emit_tracked {
            Some(emit_tracked) => {
                let mut ticket = 0u64;
                // SAFETY: as in `emit`; `ticket` is a valid out-pointer for the call.
                let status = unsafe { emit_tracked(host, events.as_ptr(), events.len(), flags, &mut ticket) };
                (status, ticket)
            }
            None => match api.emit {
                // SAFETY: as in `emit`. A 1.0 host ignores the commit flag.
                Some(emit) => (unsafe { emit(host, events.as_ptr(), events.len(), flags) }, 0),
                None => (evhost_abi::EVH_ERR_UNSUPPORTED, 0),
            },
        })
    }

    /// The host's commit watermark; `u64::MAX` on a 1.0 host (everything accepted is
    /// committed there); `None` once the instance is gone.
    pub(crate) fn committed(&self) -> Option<u64> {
        self.with(|api, host| match api.committed {
            // SAFETY: `host` is live (see `with`).
            Some(committed) => unsafe { committed(host) },
            None => u64::MAX,
        })
    }

    /// `api.wait_committed`; `EVH_OK` at once on a 1.0 host, `None` once the instance is gone.
    pub(crate) fn wait_committed(&self, ticket: u64, timeout_ms: u64) -> Option<evh_status> {
        self.with(|api, host| match api.wait_committed {
            // SAFETY: `host` is live (see `with`). It blocks only this thread, and `close`
            // behind it: the host answers once the batch is committed or the host stops.
            Some(wait_committed) => unsafe { wait_committed(host, ticket, timeout_ms) },
            None => evhost_abi::EVH_OK,
        })
    }
}

/// Log levels for `Context::log`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Level {
    fn to_abi(self) -> evh_log_level {
        match self {
            Level::Error => EVH_LOG_ERROR,
            Level::Warn => EVH_LOG_WARN,
            Level::Info => EVH_LOG_INFO,
            Level::Debug => EVH_LOG_DEBUG,
            Level::Trace => EVH_LOG_TRACE,
        }
    }
}

/// An instance's link to the host, given to `create`. Cheap to clone, `Send + Sync`: keep it,
/// and hand clones to threads you start.
///
/// LIFETIME: usable for as long as you hold it. Once the host destroyed the instance, logging
/// does nothing, `stop_requested` is `true` and emitting fails with `EmitError::Stopped`.
#[derive(Clone)]
pub struct Context {
    cell: Arc<HostCell>,
    plugin: &'static str,
    instance: Arc<str>,
    config_dir: Arc<Path>,
}

impl Context {
    pub(crate) fn new(cell: Arc<HostCell>, plugin: &'static str, instance: &str, config_dir: &str) -> Self {
        Context { cell, plugin, instance: instance.into(), config_dir: Path::new(config_dir).into() }
    }

    /// The folder of the host's config file (absolute).
    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    /// `path` from the plugin's config, resolved the way the host resolves its own: a
    /// relative path is relative to the config file's folder. `-` (stdout by convention),
    /// absolute paths and an empty one (for the plugin's check to refuse) are returned as
    /// they are.
    pub fn resolve(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        if path.is_absolute() || path == Path::new("-") || path.as_os_str().is_empty() {
            path.to_path_buf()
        } else {
            self.config_dir.join(path)
        }
    }

    pub(crate) fn cell(&self) -> &Arc<HostCell> {
        &self.cell
    }

    /// The plugin's name (its `NAME`).
    pub fn plugin_name(&self) -> &'static str {
        self.plugin
    }

    /// The instance's name from the host's config.
    pub fn instance_name(&self) -> &str {
        &self.instance
    }

    /// Writes one line to the host's log, attributed to this instance.
    pub fn log(&self, level: Level, message: impl AsRef<str>) {
        self.cell.log(level.to_abi(), message.as_ref());
    }

    /// `log(Level::Error, ..)`.
    pub fn error(&self, message: impl AsRef<str>) {
        self.log(Level::Error, message);
    }

    /// `log(Level::Warn, ..)`.
    pub fn warn(&self, message: impl AsRef<str>) {
        self.log(Level::Warn, message);
    }

    /// `log(Level::Info, ..)`.
    pub fn info(&self, message: impl AsRef<str>) {
        self.log(Level::Info, message);
    }

    /// `log(Level::Debug, ..)`.
    pub fn debug(&self, message: impl AsRef<str>) {
        self.log(Level::Debug, message);
    }

    /// True once the host asked this instance to stop (or destroyed it).
    pub fn stop_requested(&self) -> bool {
        self.cell.stop_requested()
    }

    /// Sleeps until the host asks this instance to stop (`on_stop`), or `timeout` passes;
    /// true when it was asked. The loop of a producer that polls:
    /// `while !ctx.wait_stop(interval) { /* poll, emit */ }`. It wakes at once on a stop,
    /// so such a producer needs no `stop` of its own. A consumer's own threads can wait on
    /// it too; every waiter wakes before the instance is dropped.
    pub fn wait_stop(&self, timeout: Duration) -> bool {
        self.cell.wait_stop(timeout)
    }

    /// A new emitter for this instance, for a thread of the producer's own. Producers only:
    /// the host rejects events from a consumer. Each emitter keeps its own scratch buffers.
    pub fn emitter(&self) -> Emitter {
        Emitter::new(self.cell.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_joins_relative_paths_to_the_config_folder_only() {
        let cell = Arc::new(HostCell::new(Api::default(), ptr::null_mut()));
        let ctx = Context::new(cell, "test", "t1", "/etc/evhost");
        assert_eq!(ctx.resolve("events.jsonl"), Path::new("/etc/evhost/events.jsonl"));
        assert_eq!(ctx.resolve("/var/log/x"), Path::new("/var/log/x"));
        assert_eq!(ctx.resolve("-"), Path::new("-"));
        // Empty stays empty, so that the plugin's own check refuses it.
        assert_eq!(ctx.resolve(""), Path::new(""));
    }
}
