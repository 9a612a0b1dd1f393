//! Write evhost plugins in safe Rust.
//!
//! A plugin is a type that implements [`Consumer`] (receives every event of the host's log,
//! in order, in batches) or [`Producer`] (emits events). One [`export_plugins!`] line at
//! the crate root writes the library's C entry point, the ABI version handshake and the
//! descriptors; build the crate as a `cdylib` and name the `.so` in the host's config.
//! Plugin code needs no `unsafe`: the SDK checks what the host passes, catches panics at
//! every hook (the call fails with `EVH_ERR_INTERNAL` and the panic message), and turns
//! config JSON into your `Config` type with serde.
//!
//! Lifetimes follow the ABI: a [`Batch`] and its [`Event`]s borrow the host's memory and are
//! valid only during `on_events` (the borrow checker enforces it); copy what you keep.
//! [`Emitter::emit`] copies everything before it returns. A [`Context`] may be kept and sent
//! anywhere; once the host destroyed the instance it quietly does nothing.
//!
//! # Example: a consumer that counts events of one type
//!
//! ```
//! use evhost_sdk::{Batch, Consumer, Context, Delivery, Error};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Config {
//!     /// Only events of this type count.
//!     ty: String,
//! }
//!
//! struct TypeCount {
//!     ctx: Context,
//!     ty: String,
//!     seen: u64,
//! }
//!
//! impl Consumer for TypeCount {
//!     const NAME: &'static str = "type_count";
//!     const DESCRIPTION: &'static str = "Counts the events of one type.";
//!     type Config = Config;
//!
//!     fn create(ctx: Context, config: Config) -> Result<Self, Error> {
//!         if config.ty.is_empty() {
//!             return Err(Error::config("`ty` must not be empty"));
//!         }
//!         Ok(TypeCount { ctx, ty: config.ty, seen: 0 })
//!     }
//!
//!     fn on_events(&mut self, batch: &Batch<'_>) -> Delivery {
//!         self.seen += batch.iter().filter(|e| e.ty() == self.ty).count() as u64;
//!         Delivery::Ok
//!     }
//!
//!     fn on_stop(&mut self) {
//!         self.ctx.info(format!("saw {} events of type {}", self.seen, self.ty));
//!     }
//! }
//!
//! evhost_sdk::export_plugins!(consumer TypeCount);
//! # fn main() {}
//! ```
//!
//! A producer implements [`Producer::run`], which emits batches of [`OutEvent`]s through the
//! [`Emitter`] it is given until it is done or [`Producer::stop`] asks it to return. See
//! `plugins/examples/rust` for a producer and more consumers.
//!
//! # Acknowledging only what is committed (ABI 1.1)
//!
//! A producer that acknowledges someone else (an HTTP client, a broker) does so once its
//! events are committed: on the disk log, fsynced as the host's `[log] fsync` says; on the
//! memory log, accepted. [`Emitter::emit_committed`] blocks until then;
//! [`Emitter::emit_tracked`] returns a [`Ticket`] at once, to [`wait`](Ticket::wait) on or to
//! await with [`Ticket::committed`] (woken by the SDK's `on_committed` hook; any executor),
//! so that one task keeps many batches in flight:
//!
//! ```
//! # use evhost_sdk::{EmitError, Emitter, OutEvent};
//! async fn accept(emitter: &mut Emitter, events: &[OutEvent<'_>]) -> Result<(), EmitError> {
//!     let ticket = emitter.try_emit_tracked(events)?;
//!     ticket.committed().await // now answer the client
//! }
//! ```
//!
//! Against a 1.0 host the SDK treats an accepted batch as committed, which is what the 1.0
//! host's memory log meant; `Ticket::seq` is 0 there.

pub mod cloudevents;
mod commit;
mod config;
mod context;
mod emit;
mod error;
mod event;
mod export;
mod plugin;
pub mod units;

pub use commit::{Committed, Ticket};
pub use context::{Context, Level};
pub use emit::{Emitter, OutEvent};
pub use error::{EmitError, Error};
pub use event::{Batch, Event};
pub use plugin::{Consumer, Delivery, Producer};

/// The raw ABI types and constants (status codes for `Error::with_status`, ...).
pub use evhost_abi as abi;

/// Used by `export_plugins!`; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::export::{consumer, library, library_init, producer};
}
