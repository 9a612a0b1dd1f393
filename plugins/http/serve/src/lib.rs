//! The bounded HTTP/1 server under evhost's HTTP endpoints (the `http` producer, the
//! `objects` S3 endpoint, and the host's own admin endpoint), so that no client can hold the
//! host's file descriptors, threads or memory. It logs through a function its caller gives
//! it, so it needs neither the plugin SDK nor the host:
//!
//! - **`header_timeout`**: a request's head must be complete this long after its first
//!   byte; a client that sends its headers slowly (slowloris) is disconnected.
//! - **`idle_timeout`**: a connection with no request begun this long after it was accepted,
//!   or after its previous answer, is closed (idle keep-alive).
//! - **`body_timeout`**: the whole body must arrive within this long after the head (a
//!   deadline for the whole body, not a minimum rate: one number a client can plan with,
//!   and a 1-byte/s body is cut off at the same time as a stalled one). The plugin answers
//!   408; see [`read_body`].
//! - **`max_connections`**: connections beyond it are not accepted until one closes; they
//!   wait in the kernel's listen backlog (bounded by the kernel, no descriptor or memory of
//!   ours), so a flood of idle connections costs at most `max_connections` descriptors, and
//!   each of those is freed by `idle_timeout` at the latest.
//! - **`max_headers`**, **`max_header_bytes`**: a head over either is answered 431 by the
//!   plugin, in its own format ([`head_too_large`]). hyper stops reading a head at
//!   [`HARD_FACTOR`] times these (a bare 431, then the connection is closed), so a 512 MiB
//!   header line costs a few KiB, never the line.
//!
//! Everything runs on the caller's tokio runtime, one task per connection, no thread.
#![forbid(unsafe_code)]

mod body;
mod conn;
mod limits;
mod serve;

pub use body::{head_too_large, read_body, BodyError};
pub use limits::{count_key, duration_key, Limits, HARD_FACTOR};
pub use serve::{serve, Stats};
