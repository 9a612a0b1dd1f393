#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! [`Subscribe`] (`subscribe`, `pull`, `core`) and [`Publish`] (`publish`, `subject`) share
//! the config (`config`), the connection (`connect`) and the CloudEvents NATS binding
//! ([`binding`]).
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
