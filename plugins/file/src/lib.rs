//! The `file` consumer: writes every event as one line of CloudEvents JSON (JSON Lines) to a
//! file or to stdout, with size-based rotation and optional fsync per batch.
//!
//! Each batch is serialized into one buffer and written with as few `write` calls as
//! possible, so a reader of the file sees whole batches; nothing stays buffered between
//! batches, so a crash of the host loses no event the consumer answered OK for (and with
//! `fsync = "batch"`, neither does a crash of the machine).
//!
//! A crash mid-write (kill -9, power loss) or a failed write can still leave a torn last line.
//! Whenever the consumer opens a file it appends to (at start, and when it reopens one after
//! a write error or a rotation), a last line without its `\n` is cut back to the end of the
//! last whole line, with a WARN naming the file and how many bytes were cut, whatever the
//! `fsync` setting: half an event is never useful, and left in place the next line would be
//! glued onto it. So every line of the file is a whole CloudEvent. The torn event was never
//! answered OK for, so it is delivered again wherever the host's log still holds it.
#![forbid(unsafe_code)]

mod config;
mod consumer;
mod output;

pub use consumer::File;

evhost_sdk::export_plugins!(consumer File);
