//! The traits a plugin implements: `Consumer` and `Producer`, and a consumer's answer,
//! `Delivery`.

use serde::de::DeserializeOwned;

use crate::{Batch, Context, Emitter, Error};

/// A consumer: receives every event of the log, in order, in batches.
///
/// The host never calls one instance concurrently, so hooks take `&mut self`. Panics in any
/// hook are caught: the call fails with `EVH_ERR_INTERNAL` and the panic message, and the
/// instance is never called again (only dropped; see the README).
pub trait Consumer: Sized + Send + 'static {
    /// Unique within the library; `[a-z0-9_-]+` by convention. Prefixes every error message.
    const NAME: &'static str;
    /// One line for `evhost inspect`.
    const DESCRIPTION: &'static str;
    /// The plugin's own version.
    const VERSION: &'static str = "0.1.0";

    /// The plugin's `config` table, deserialized from JSON. Use
    /// `#[serde(deny_unknown_fields)]` so that a typo is an error, not a silent default.
    type Config: DeserializeOwned;

    /// Makes an instance. An `Err` fails the instance with `EVH_ERR_CONFIG` (or the error's
    /// status) and its message.
    fn create(ctx: Context, config: Self::Config) -> Result<Self, Error>;

    /// Handles one batch (never empty) and says how it went.
    ///
    /// LIFETIME: `batch` and its events are valid only during this call; copy what you keep.
    fn on_events(&mut self, batch: &Batch<'_>) -> Delivery;

    /// Called once after the last batch, before the instance is dropped: flush and close
    /// here, and report trouble with `Context::error` (this hook cannot fail).
    fn on_stop(&mut self) {}
}

/// A producer: runs on a thread the host gives it and emits batches until it is finished or
/// asked to stop.
///
/// `run` and `stop` run at the same time on different threads, hence `&self` and `Sync`:
/// share state through atomics or locks. A producer with a runtime of its own (tokio, ...)
/// blocks in `run` on it until stopped; threads it starts take `Context::emitter()` clones.
pub trait Producer: Sized + Send + Sync + 'static {
    /// Unique within the library; `[a-z0-9_-]+` by convention. Prefixes every error message.
    const NAME: &'static str;
    /// One line for `evhost inspect`.
    const DESCRIPTION: &'static str;
    /// The plugin's own version.
    const VERSION: &'static str = "0.1.0";

    /// The plugin's `config` table, deserialized from JSON (see `Consumer::Config`).
    type Config: DeserializeOwned;

    /// Makes an instance; as `Consumer::create`.
    fn create(ctx: Context, config: Self::Config) -> Result<Self, Error>;

    /// Emits until finished (`Ok`) or asked to stop (`stop` was called, or
    /// `emitter.stop_requested()`; return `Ok` then too). An `Err` is reported with its
    /// message and `EVH_ERR_INTERNAL` (or its status).
    fn run(&self, emitter: &mut Emitter) -> Result<(), Error>;

    /// Asks `run` to return soon; called from another thread while `run` runs. The default
    /// does nothing, for producers that wait with `wait_stop` or poll `stop_requested`.
    fn stop(&self) {}

    /// ABI 1.1: every event with a sequence number up to `committed` is committed (see
    /// [`Ticket`](crate::Ticket), whose futures the SDK wakes before it calls this). Called
    /// on a host thread of its own, never concurrently with itself, with values that only
    /// increase, after events this instance emitted were committed. Return quickly, and do
    /// not wait here (no `emit`, `emit_committed` or `Ticket::wait`; `try_emit` is fine).
    /// The default does nothing; a 1.0 host never calls it.
    fn on_committed(&self, committed: u64) {
        let _ = committed;
    }
}

/// A consumer's answer for one batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Every event was handled (`EVH_OK`).
    Ok,
    /// A transient failure (`EVH_RETRY`): the first `handled` events were handled; the host
    /// delivers the rest again after a backoff. `reason` goes to the host's log.
    Retry { handled: usize, reason: String },
    /// A permanent failure (`EVH_FAIL`): the first `handled` events were handled; the rest
    /// goes to the dead-letter target. `reason` goes to the host's log.
    Fail { handled: usize, reason: String },
}

impl Delivery {
    /// `Delivery::Retry` with `handled` leading events handled.
    pub fn retry(handled: usize, reason: impl Into<String>) -> Self {
        Delivery::Retry { handled, reason: reason.into() }
    }

    /// `Delivery::Fail` with `handled` leading events handled.
    pub fn fail(handled: usize, reason: impl Into<String>) -> Self {
        Delivery::Fail { handled, reason: reason.into() }
    }
}
