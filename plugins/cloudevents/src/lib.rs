//! CloudEvents and units, written once for the host, the Rust SDK and every first-party
//! plugin. It depends on neither the host nor the SDK, so both can depend on it.
//!
//! - [`event`]: [`CloudEvent`], a read-only view of an event's attributes and data, which
//!   the host's log entries, the SDK's delivered events and [`OutEvent`] all implement, so
//!   every format below is written once for all of them; and [`OutEvent`], an event as
//!   parts, borrowed or owned, which the decoders return and producers emit.
//! - [`attributes`]: the list of CloudEvents attributes and the checks every reader of
//!   events makes alike (RFC 3339 time, extension names).
//! - [`json`]: the structured JSON format, both ways.
//! - [`binary`]: the HTTP binding's binary mode (`ce-*` headers), both ways.
//! - [`units`]: durations and sizes, one grammar for every config key that takes them.

pub mod attributes;
pub mod binary;
pub mod event;
pub mod json;
pub mod units;

pub use event::{CloudEvent, OutEvent};
