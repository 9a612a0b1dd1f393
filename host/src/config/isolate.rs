//! The isolation keys of a `[[producer]]` or `[[consumer]]` entry: `isolate = true` runs the
//! instance in a worker process of its own (see crate::isolate); `restart`, `hook_timeout`
//! and `max_memory` say how that worker is kept, and mean nothing without it.

use std::time::Duration;

use super::model::RawInstance;
use super::{backoff, Location, Validator};
use crate::diagnostic::Diagnostic;

/// How an isolated instance's worker is run and restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsolateConfig {
    /// Restarts after a crash or hang before the instance is failed for good.
    pub restart_attempts: u32,
    pub backoff_first: Duration,
    pub backoff_max: Duration,
    /// `hook_timeout`: how long on_events, on_create, on_start, on_stop and on_committed may
    /// run; None keeps each hook's default (see [`IsolateConfig::timeout`]).
    pub hook_timeout: Option<Duration>,
    /// `max_memory` in bytes: the worker's data memory limit (RLIMIT_DATA).
    pub max_memory: Option<u64>,
    /// Where its value is in the config file, to point at when it is too small.
    pub max_memory_span: Option<std::ops::Range<usize>>,
}

/// A hook's default limit in a worker, when `hook_timeout` is not set: long enough for a
/// plugin that connects to a slow service, short enough that a hang is noticed.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(30);

/// The smallest `max_memory` a Go library starts under: the Go runtime's heap arenas,
/// page summaries and thread stacks take about 100 MiB of data memory at start (measured:
/// 96 MiB aborts, 128 MiB runs), before the plugin allocates anything.
pub const GO_MIN_MEMORY: u64 = 128 << 20;

/// An isolated consumer's `batch` when it sets none: each batch is a round trip to its
/// worker (two context switches and a few system calls, some microseconds), so batches
/// four times the in-process default keep that cost per event in the nanoseconds (see
/// docs/decisions.md, "Isolation").
pub const DEFAULT_BATCH: usize = 1024;

/// The smallest `max_memory`: below it the worker cannot even load (the host binary's data,
/// the C library's and a few threads' stacks take tens of MiB).
const MIN_MEMORY: u64 = 32 << 20;

impl Default for IsolateConfig {
    fn default() -> Self {
        IsolateConfig {
            restart_attempts: 5,
            backoff_first: Duration::from_millis(100),
            backoff_max: Duration::from_secs(30),
            hook_timeout: None,
            max_memory: None,
            max_memory_span: None,
        }
    }
}

impl IsolateConfig {
    /// How long `hook` may run before the worker counts as hung. `on_run` runs until it is
    /// asked to stop, so it has no limit of its own (shutdown's drain timeout bounds it).
    pub fn timeout(&self, hook: &str) -> Option<Duration> {
        match hook {
            "on_run" => None,
            _ => Some(self.hook_timeout.unwrap_or(DEFAULT_HOOK_TIMEOUT)),
        }
    }
}

impl Validator {
    /// The isolation keys of one entry: None when it is not isolated.
    pub(super) fn isolate(&self, raw: &RawInstance, name: &str) -> Result<Option<IsolateConfig>, Diagnostic> {
        let on = raw.isolate.as_ref().is_some_and(|v| *v.get_ref());
        if !on {
            let stray = [
                raw.restart.as_ref().map(|v| ("restart", v.span())),
                raw.hook_timeout.as_ref().map(|v| ("hook_timeout", v.span())),
                raw.max_memory.as_ref().map(|v| ("max_memory", v.span())),
            ];
            if let Some((key, span)) = stray.into_iter().flatten().next() {
                return Err(Diagnostic::new(format!("`{key}` applies to isolated plugins only"))
                    .at(Some(Location { file: self.file.clone(), span }))
                    .help(format!(
                        "add `isolate = true` to \"{name}\" to run it in a worker process, or remove `{key}`"
                    )));
            }
            return Ok(None);
        }
        let mut config = IsolateConfig::default();
        if let Some(restart) = &raw.restart {
            let restart = restart.get_ref();
            if let Some(attempts) = &restart.attempts {
                if !(0..=1000).contains(attempts.get_ref()) {
                    return Err(self.error(
                        attempts,
                        "invalid restart `attempts`",
                        "give a number from 0 to 1000, e.g. restart = { attempts = 10 }",
                    ));
                }
                config.restart_attempts = *attempts.get_ref() as u32;
            }
            if let Some(range) = &restart.backoff {
                (config.backoff_first, config.backoff_max) = backoff::parse_backoff(range.get_ref())
                    .map_err(|e| self.error(range, "invalid restart `backoff`", e))?;
            }
        }
        if let Some(timeout) = &raw.hook_timeout {
            let value =
                timeout.get_ref().get().map_err(|e| self.error(timeout, "invalid `hook_timeout`", e.to_string()))?;
            if value.is_zero() {
                return Err(self.error(
                    timeout,
                    "`hook_timeout` must be above zero",
                    "give the longest a hook may run before the worker counts as hung, e.g. hook_timeout = \"30s\"",
                ));
            }
            config.hook_timeout = Some(value);
        }
        if let Some(memory) = &raw.max_memory {
            let bytes =
                memory.get_ref().bytes().map_err(|e| self.error(memory, "invalid `max_memory`", e.to_string()))?;
            if bytes < MIN_MEMORY {
                return Err(self.error(
                    memory,
                    "`max_memory` is too small for a worker process",
                    "give at least \"32MiB\": it limits the worker's data memory, of which the host binary and its threads' stacks take part; e.g. max_memory = \"512MiB\"",
                ));
            }
            config.max_memory = Some(bytes);
            config.max_memory_span = Some(memory.span());
        }
        Ok(Some(config))
    }
}
