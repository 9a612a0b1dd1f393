//! `http`: a producer that turns HTTP requests into events.
//!
//! It speaks the CloudEvents HTTP protocol binding — binary mode (`ce-*` headers, the body
//! is the data), structured mode (`Content-Type: application/cloudevents+json`) and batched
//! mode (`application/cloudevents-batch+json`, a JSON array emitted as one atomic batch) —
//! and turns any other request into one event:
//!
//! | attribute | value |
//! | --- | --- |
//! | `id` | a fresh UUID v4 |
//! | `source` | the request path, e.g. `/hooks/github` |
//! | `type` | the `type` from config |
//! | `time` | when the request arrived (RFC 3339, UTC) |
//! | `datacontenttype` | the request's Content-Type, if any |
//! | `data` | the body |
//! | `method` (extension) | the HTTP method, e.g. `POST` |
//! | `query` (extension) | the raw query string, when there is one |
//!
//! # Config
//!
//! | key | default | meaning |
//! | --- | --- | --- |
//! | `listen` | `"127.0.0.1:8080"` | address to listen on; `"0.0.0.0:8080"` for every interface |
//! | `type` | `"dev.evhost.http.request"` | the type of a plain request's event |
//! | `max_body_bytes` | `1048576` | largest body; a number or a size such as `"64KiB"`, `"1MiB"` |
//! | `token` | none | when set, requests need `Authorization: Bearer <token>` |
//! | `methods` | `["POST", "PUT"]` | the methods accepted; others get 405 |
//! | `header_timeout` | `"10s"` | a request's head must be complete this long after its first byte; a slower client (slowloris) is disconnected |
//! | `body_timeout` | `"30s"` | the whole body must arrive this long after the head (a deadline, not a minimum rate); else 408 and the connection is closed |
//! | `idle_timeout` | `"60s"` | a connection with no request begun this long after it opened or after its last answer is closed |
//! | `max_connections` | `256` | connections served at once; more wait in the kernel's listen backlog until one closes |
//! | `max_headers` | `100` | header fields in a request; more get 431 |
//! | `max_header_bytes` | `16384` | bytes of a request's head; more get 431 |
//!
//! The limits are `evhost_http_serve`'s (plugins/http/serve), which the `objects` S3
//! endpoint shares. Connections over `max_connections` wait rather than being refused: a
//! waiting connection costs the host nothing (the kernel holds it, in a backlog it bounds),
//! an honest client is served as soon as a slot frees (idle ones free theirs within
//! `idle_timeout`), and an answer-and-close would reset clients whose request the server
//! never read. A head 4 times over `max_headers` or `max_header_bytes` is not read on:
//! the server answers a bare 431 and closes.
//!
//! # Responses
//!
//! | status | when |
//! | --- | --- |
//! | 202 | the host committed the events (on the disk log: fsynced as its `fsync` policy says; on the memory log: accepted); the body is `{"accepted": n, "ids": [...]}` |
//! | 400 | malformed JSON, or an invalid CloudEvent (the reason says which attribute, including a `time` that is not RFC 3339); nothing of a batch is accepted |
//! | 401 | `token` is set and the bearer token is missing or wrong |
//! | 405 | the method is not in `methods` (with `Allow`) |
//! | 408 | the body did not arrive within `body_timeout`; the connection is closed |
//! | 413 | the body is over `max_body_bytes`; an event over the host's `max_event_bytes`; or a batch larger than the whole log (`[log] capacity` / `max_bytes`): the reason says which (for a batch: which two it can be, the host's log says which) |
//! | 415 | a structured format other than JSON (`application/cloudevents+xml`, ...) |
//! | 431 | more than `max_headers` header fields, or a head over `max_header_bytes` |
//! | 503 | the host's log is full, or the host is stopping; nothing was accepted; `Retry-After: 1`. Or the host stopped after it accepted the events but before it committed them: send them again with the same ids |
//!
//! Errors come as `{"error": "<reason>"}`.
//!
//! # Threads and stopping
//!
//! The port is bound in `create`, so a port in use fails `evhost check` and the start of
//! `evhost run`. `run` serves on a single-threaded tokio runtime; requests emit with
//! `try_emit`, which never waits, so a full log answers 503 instead of stalling the server.
//! `stop` refuses new connections, lets requests in flight finish (up to 5 s) and returns.
#![forbid(unsafe_code)]

mod binding;
mod config;
mod server;

use std::io::ErrorKind;
use std::net::{TcpListener, ToSocketAddrs};
use std::sync::{Mutex, PoisonError};

use evhost_sdk::{Context, Emitter, Error, Producer};
use tokio::sync::watch;

pub use config::Config;
use config::Settings;

pub struct Http {
    ctx: Context,
    /// Taken by `run`; bound in `create` so that bind errors are config errors.
    bound: Mutex<Option<(TcpListener, Settings)>>,
    stop: watch::Sender<bool>,
}

impl Producer for Http {
    const NAME: &'static str = "http";
    const DESCRIPTION: &'static str = "HTTP requests and CloudEvents (binary, structured, batched) in, as events";
    type Config = Config;

    fn create(ctx: Context, config: Config) -> Result<Self, Error> {
        let settings = config.check()?;
        let listener = bind(&settings.listen)?;
        Ok(Http { ctx, bound: Mutex::new(Some((listener, settings))), stop: watch::Sender::new(false) })
    }

    fn run(&self, emitter: &mut Emitter) -> Result<(), Error> {
        let taken = self.bound.lock().unwrap_or_else(PoisonError::into_inner).take();
        let (listener, settings) = taken.ok_or_else(|| Error::new("run was called twice"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::new(format!("cannot start the tokio runtime: {e}")))?;
        let stop = self.stop.subscribe();
        runtime
            .block_on(server::serve(listener, settings, emitter.clone(), &self.ctx, stop))
            .map_err(|e| Error::new(format!("the server failed: {e}")))
    }

    fn stop(&self) {
        self.stop.send_replace(true);
    }
}

/// Binds `listen` (nonblocking, for tokio), with a message that says what to do.
fn bind(listen: &str) -> Result<TcpListener, Error> {
    let not_an_address = || {
        Error::config(format!("config: `listen` = {listen:?} is not an address; write host:port, e.g. \"127.0.0.1:8080\" (or \"0.0.0.0:8080\" for every interface)"))
    };
    let addresses: Vec<_> = listen.to_socket_addrs().map_err(|_| not_an_address())?.collect();
    if addresses.is_empty() {
        return Err(not_an_address());
    }
    let listener = TcpListener::bind(&addresses[..]).map_err(|e| {
        let fix = match e.kind() {
            ErrorKind::AddrInUse => "another process listens there: stop it, or choose another port in `listen`",
            ErrorKind::PermissionDenied => "ports below 1024 need privileges: choose a port from 1024 up in `listen`",
            ErrorKind::AddrNotAvailable => "that address is not one of this machine's: use 127.0.0.1, 0.0.0.0 or an address of an interface in `listen`",
            _ => "check the address in `listen`",
        };
        let what = match e.kind() {
            ErrorKind::AddrInUse => "address in use".to_owned(),
            _ => e.to_string(),
        };
        Error::config(format!("cannot listen on {listen}: {what}; {fix}"))
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::new(format!("cannot make the socket on {listen} nonblocking: {e}")))?;
    Ok(listener)
}

evhost_sdk::export_plugins!(producer Http);
