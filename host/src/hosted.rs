//! An instance wherever it runs: in the host's process ([`loader::Instance`]) or in a
//! worker process of its own ([`Isolated`], `isolate = true`). The delivery stage and the
//! lifecycle call both the same way; only this enum knows the difference.

use std::sync::Arc;

use crate::isolate::Isolated;
use crate::loader::{self, Delivered, FileId, HookError, InstanceHost, Notified};
use crate::log::Batch;

pub enum Hosted {
    InProcess(Arc<loader::Instance>),
    /// Boxed: its supervision state is large, and the enum is held in an `Arc` anyway.
    Isolated(Box<Isolated>),
}

impl Hosted {
    /// The host's record of the instance: its name, counters and last error.
    pub fn host(&self) -> &'static InstanceHost {
        match self {
            Hosted::InProcess(instance) => instance.host,
            Hosted::Isolated(isolated) => isolated.host,
        }
    }

    /// The plugin's name, as the library declares it.
    pub fn plugin_name(&self) -> &str {
        match self {
            Hosted::InProcess(instance) => &instance.plugin.name,
            Hosted::Isolated(isolated) => &isolated.plugin,
        }
    }

    /// The identity of its library file when it was loaded (or, isolated, created).
    pub fn library_file(&self) -> Option<FileId> {
        match self {
            Hosted::InProcess(instance) => instance.plugin.file,
            Hosted::Isolated(isolated) => isolated.file,
        }
    }

    /// The in-process instance, for what only those have (the commit notifier).
    pub fn in_process(&self) -> Option<&Arc<loader::Instance>> {
        match self {
            Hosted::InProcess(instance) => Some(instance),
            Hosted::Isolated(_) => None,
        }
    }

    /// Why an isolated instance failed for good (its restarts ran out), if it did.
    pub fn failure(&self) -> Option<String> {
        match self {
            Hosted::InProcess(_) => None,
            Hosted::Isolated(isolated) => isolated.failure(),
        }
    }

    /// An isolated instance whose worker died and is being restarted: why, and when.
    pub fn restarting(&self) -> Option<String> {
        match self {
            Hosted::InProcess(_) => None,
            Hosted::Isolated(isolated) => isolated.restarting(),
        }
    }

    /// Consumer: hands the events `from..` of `batch` to `on_events`.
    pub fn deliver(&self, batch: &Batch, from: usize) -> Delivered {
        match self {
            Hosted::InProcess(instance) => instance.deliver(batch, from),
            Hosted::Isolated(isolated) => isolated.deliver(batch, from),
        }
    }

    /// Producer: true when it runs on a host thread ([`run`](Self::run)). An isolated
    /// producer always does: that thread serves its worker.
    pub fn runs_on_host_thread(&self) -> bool {
        match self {
            Hosted::InProcess(instance) => instance.runs_on_host_thread(),
            Hosted::Isolated(_) => true,
        }
    }

    /// Producer: runs it on the calling thread until it returns.
    pub fn run(&self) -> Result<(), HookError> {
        match self {
            Hosted::InProcess(instance) => instance.run(),
            Hosted::Isolated(isolated) => isolated.run(),
        }
    }

    /// Producer: `on_start`, for an in-process plugin that runs its own threads.
    pub fn start(&self) -> Result<(), HookError> {
        match self {
            Hosted::InProcess(instance) => instance.start(),
            Hosted::Isolated(_) => Ok(()),
        }
    }

    /// Shutdown began: an isolated instance waiting out a restart's backoff restarts at
    /// once, and later restarts do not wait either.
    pub fn hurry(&self) {
        if let Hosted::Isolated(isolated) = self {
            isolated.hurry();
        }
    }

    /// Asks a producer to stop; lets a consumer flush (`on_stop`).
    pub fn stop(&self) {
        match self {
            Hosted::InProcess(instance) => instance.stop(),
            Hosted::Isolated(isolated) => isolated.stop(),
        }
    }
}

impl Notified for Hosted {
    fn host(&self) -> &'static InstanceHost {
        Hosted::host(self)
    }

    fn has_on_committed(&self) -> bool {
        match self {
            Hosted::InProcess(instance) => instance.has_on_committed(),
            Hosted::Isolated(isolated) => isolated.on_committed,
        }
    }

    fn committed(&self, committed: u64) {
        match self {
            Hosted::InProcess(instance) => instance.committed(committed),
            Hosted::Isolated(isolated) => isolated.committed(committed),
        }
    }
}
