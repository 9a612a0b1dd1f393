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
//!
//! # Config keys
//!
//! | key | default | what |
//! | --- | --- | --- |
//! | `path` | required | the file to append to, relative to the host's config file; `"-"` writes to stdout |
//! | `rotate_bytes` | never rotate | rotate before a line would take the file past this size: bytes, or a size such as `"64MiB"` |
//! | `keep` | `5` | with `rotate_bytes`: how many rotated files to keep (`path.1` … `path.<keep>`, the oldest dropped) |
//! | `fsync` | `"never"` | `"batch"`: fsync after each batch, so what was answered OK survives a crash of the machine |
//!
//! `rotate_bytes`, `keep` and `fsync` apply to files only, not to `path = "-"`; any other key
//! is refused.
//!
//! ```toml
//! [[consumer]]
//! name = "archive"
//! library = "target/plugins/libevh_file.so"
//! config = { path = "events.jsonl", rotate_bytes = "64MiB", keep = 3, fsync = "batch" }
//! ```
#![forbid(unsafe_code)]

mod config;
mod consumer;
mod output;

pub use consumer::File;

evhost_sdk::export_plugins!(consumer File);
