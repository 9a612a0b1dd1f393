//! The `file` consumer: writes every event as one line of CloudEvents JSON (JSON Lines) to a
//! file or to stdout, with size-based rotation and optional fsync per batch.
//!
//! Each batch is serialized into one buffer and written with as few `write` calls as
//! possible, so a reader of the file sees whole batches; nothing stays buffered between
//! batches, so a crash of the host loses no event the consumer answered OK for (and with
//! `fsync = "batch"`, neither does a crash of the machine).
#![forbid(unsafe_code)]

mod config;
mod consumer;
mod output;

pub use consumer::File;

evhost_sdk::export_plugins!(consumer File);
