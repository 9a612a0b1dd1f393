//! A plugin instance: the pointer `on_create` made, and safe calls of its hooks.

use std::ffi::c_void;
use std::sync::Arc;

use evhost_abi::{self as evh, evh_create_args, evh_event, evh_status, evh_str};

use crate::config::plugin_config::PluginConfig;
use crate::log::{Batch, Chunk};

use super::host_api::{InstanceHost, HOST_API};
use super::library::Plugin;
use super::whereabouts::{enter, Site};

/// A hook's failure: its status and the message it recorded with `set_error`.
#[derive(Debug, Clone)]
pub struct HookError {
    pub status: evh_status,
    pub message: Option<String>,
    /// From `on_create`: the path of the config key a config accessor found at fault, when
    /// the failure is about one (`jobs[2].every`).
    pub config_key: Option<String>,
}

impl HookError {
    /// A failure as a worker reports it over its socket, where an empty text means none.
    pub fn from_wire(status: evh_status, message: String, config_key: String) -> Self {
        let given = |text: String| (!text.is_empty()).then_some(text);
        HookError { status, message: given(message), config_key: given(config_key) }
    }
}

impl std::fmt::Display for HookError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = evh::status_name(self.status);
        match &self.message {
            Some(message) => write!(f, "{message} ({name}")?,
            None => write!(f, "it returned {name} without a message ({name}")?,
        }
        if name == "EVH_UNKNOWN" {
            write!(f, " {}", self.status)?;
        }
        f.write_str(")")
    }
}

/// What `on_events` answered.
#[derive(Debug, Clone, Copy)]
pub struct Delivered {
    pub status: evh_status,
    /// Leading events handled: all of them on EVH_OK; otherwise what the plugin wrote, which
    /// may be out of range (the delivery stage treats that as a plugin error).
    pub handled: usize,
}

/// One live instance. `on_destroy` runs when it is dropped.
pub struct Instance {
    pub plugin: Arc<Plugin>,
    pub host: &'static InstanceHost,
    pointer: *mut c_void,
    sites: Sites,
}

/// Where each hook of the instance runs, for the stuck and crash reports (see whereabouts).
struct Sites {
    on_create: &'static Site,
    on_destroy: &'static Site,
    on_run: &'static Site,
    on_start: &'static Site,
    on_stop: &'static Site,
    on_events: &'static Site,
    on_committed: &'static Site,
}

impl Sites {
    fn new(plugin: &Plugin, name: &str) -> Sites {
        let who = format!("{} \"{name}\" ({})", plugin.kind, plugin.library_file);
        let site = |hook| Site::leak(who.clone(), hook);
        Sites {
            on_create: site("on_create"),
            on_destroy: site("on_destroy"),
            on_run: site("on_run"),
            on_start: site("on_start"),
            on_stop: site("on_stop"),
            on_events: site("on_events"),
            on_committed: site("on_committed"),
        }
    }
}

// SAFETY: the instance pointer is only handed back to the plugin's hooks. The ABI makes
// hooks callable from any host thread; that one consumer instance is never called
// concurrently is kept by the delivery stage, which gives each consumer one worker.
unsafe impl Send for Instance {}
unsafe impl Sync for Instance {}

impl Instance {
    /// Calls `on_create` with the instance's JSON config and the config file's folder.
    pub fn create(
        plugin: Arc<Plugin>,
        host: &'static InstanceHost,
        config_json: &str,
        config_dir: &str,
    ) -> Result<Instance, HookError> {
        let on_create = plugin.hooks.on_create.expect("checked when the library was loaded");
        let args = evh_create_args {
            struct_size: evh::struct_size::<evh_create_args>(),
            host: host.handle(),
            api: &HOST_API,
            instance_name: evh_str::from_str(&host.name),
            config_json: evh_str::from_str(config_json),
            plugin: plugin.raw,
            config_dir: evh_str::from_str(config_dir),
        };
        let sites = Sites::new(&plugin, &host.name);
        let mut pointer: *mut c_void = std::ptr::null_mut();
        // The host wrote the JSON, so it parses; if it ever did not, the accessors would
        // answer that they work only in on_create, and the plugin's JSON path still works.
        host.set_config(PluginConfig::parse(config_json).ok().map(Arc::new));
        let status = {
            let _inside = enter(sites.on_create);
            // SAFETY: on_create gets valid args for the call and an out-pointer, per the ABI.
            unsafe { on_create(&args, &mut pointer) }
        };
        // The accessors' strings were valid until now. A message from a lookup the plugin
        // recovered from (reading a key one way, then another) must not explain a later failure.
        host.set_config(None);
        let config_key = host.take_config_key();
        if status == evh::EVH_OK {
            host.take_error();
        }
        if status != evh::EVH_OK {
            // No instance, no on_destroy; a thread on_create started may still hold the handle.
            host.retire();
            // Only a config error is about the key; another failure after a recovered lookup is not.
            let config_key = config_key.filter(|_| status == evh::EVH_ERR_CONFIG);
            return Err(HookError { status, message: host.take_error(), config_key });
        }
        Ok(Instance { plugin, host, pointer, sites })
    }

    fn result(&self, status: evh_status) -> Result<(), HookError> {
        if status == evh::EVH_OK {
            Ok(())
        } else {
            Err(HookError { status, message: self.host.take_error(), config_key: None })
        }
    }

    /// Producer: runs `on_run` on the calling thread until the plugin returns.
    pub fn run(&self) -> Result<(), HookError> {
        match self.plugin.hooks.on_run {
            Some(on_run) => {
                let _inside = enter(self.sites.on_run);
                // SAFETY: the instance is alive; on_run is called once, from one thread.
                self.result(unsafe { on_run(self.pointer) })
            }
            None => Ok(()),
        }
    }

    /// Producer: `on_start`, for plugins that run their own threads.
    pub fn start(&self) -> Result<(), HookError> {
        match self.plugin.hooks.on_start {
            Some(on_start) => {
                let _inside = enter(self.sites.on_start);
                // SAFETY: the instance is alive.
                self.result(unsafe { on_start(self.pointer) })
            }
            None => Ok(()),
        }
    }

    /// True when the producer runs on a host thread (`on_run`) rather than its own.
    pub fn runs_on_host_thread(&self) -> bool {
        self.plugin.hooks.on_run.is_some()
    }

    /// Asks a producer to stop (and, for consumers, to flush): `on_stop`.
    pub fn stop(&self) {
        self.host.request_stop();
        if let Some(on_stop) = self.plugin.hooks.on_stop {
            let _inside = enter(self.sites.on_stop);
            // SAFETY: the instance is alive; the ABI allows on_stop from another thread
            // while on_run is running.
            unsafe { on_stop(self.pointer) }
        }
    }

    /// Producer: has an `on_committed` hook (ABI 1.1).
    pub fn has_on_committed(&self) -> bool {
        self.plugin.hooks.on_committed.is_some()
    }

    /// Producer: `on_committed`, from one thread only: the commit notifier's (see
    /// commits.rs), or an isolated producer's worker's frame loop.
    pub fn committed(&self, committed: u64) {
        if let Some(on_committed) = self.plugin.hooks.on_committed {
            let _inside = enter(self.sites.on_committed);
            // SAFETY: the instance is alive (the notifier holds it and is joined before the
            // producers are destroyed); one thread calls it, so never concurrently.
            unsafe { on_committed(self.pointer, committed) }
        }
    }

    /// Consumer: hands the events `from..` of `batch` to `on_events`.
    pub fn deliver(&self, batch: &Batch, from: usize) -> Delivered {
        // SAFETY: a Batch holds pointers into chunks it keeps alive, so every event is valid
        // for the call.
        unsafe { self.deliver_raw(&batch.events()[from..]) }
    }

    /// Consumer: hands a whole chunk to `on_events` in one call (an isolated consumer's
    /// worker, and the benchmark's `tokio_broadcast_batched`). The caller keeps one worker
    /// per consumer.
    pub fn deliver_chunk(&self, chunk: &Chunk) -> Delivered {
        let events = chunk.events(chunk.first_seq..chunk.end_seq());
        let pointers: Vec<*const evh_event> = events.iter().map(|e| e as *const evh_event).collect();
        // SAFETY: the events and what they point to belong to `chunk`, borrowed for the call.
        unsafe { self.deliver_raw(&pointers) }
    }

    /// # Safety
    /// Every pointer must point to an event that is valid for the duration of the call, and
    /// the caller must not call this instance concurrently (one worker per consumer).
    pub(super) unsafe fn deliver_raw(&self, events: &[*const evh_event]) -> Delivered {
        let on_events = self.plugin.hooks.on_events.expect("checked when the library was loaded");
        let mut handled = 0usize;
        let status = {
            let _inside = enter(self.sites.on_events);
            // SAFETY: forwarded from the caller; `handled` is a valid out-pointer.
            unsafe { on_events(self.pointer, events.as_ptr(), events.len(), &mut handled) }
        };
        let handled = if status == evh::EVH_OK { events.len() } else { handled };
        Delivered { status, handled }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(on_destroy) = self.plugin.hooks.on_destroy {
            let _inside = enter(self.sites.on_destroy);
            // SAFETY: on_destroy runs once, after every other hook returned (the owner drops
            // the instance only after its threads are joined).
            unsafe { on_destroy(self.pointer) }
        }
        self.host.retire();
    }
}
