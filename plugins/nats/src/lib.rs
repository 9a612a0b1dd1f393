//! `nats`: notification events in and out through NATS, one library with two plugins.
//! See README.md beside this crate for every config key, the attributes of a plain
//! message's event, and what core NATS mode (`jetstream = false`) does not promise.
//!
//! - [`Subscribe`] (`nats-subscribe`, a producer): a JetStream durable pull consumer; each
//!   message is acknowledged only once its event is committed.
//! - [`Publish`] (`nats-publish`, a consumer): each event to a subject, with its id as
//!   `Nats-Msg-Id` so that JetStream drops duplicates; PubAcks are pipelined.
//!
//! Both speak the CloudEvents NATS protocol binding ([`binding`]): binary mode of
//! `nats-publish` and the decoding of `nats-subscribe` are exact inverses.
#![forbid(unsafe_code)]

pub mod binding;
mod config;
mod connect;
mod core;
mod publish;
mod pull;
mod subject;
mod subscribe;

pub use publish::Publish;
pub use subscribe::Subscribe;

evhost_sdk::export_plugins!(producer Subscribe, consumer Publish);
