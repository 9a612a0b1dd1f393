//! The `webhook` consumer: POSTs events to a URL in one of the CloudEvents HTTP protocol
//! binding's modes, and maps the answer onto the host's delivery promises.
//!
//! - `binary` (default): one request per event, attributes as `ce-*` headers, the data as
//!   the body with `Content-Type` = `datacontenttype`;
//! - `structured`: one request per event, `application/cloudevents+json`;
//! - `batched`: one request per batch, `application/cloudevents-batch+json`.
//!
//! 2xx is OK; 408, 429, 5xx, connection errors and timeouts ask the host to retry (after a
//! backoff) from the first event not yet accepted; any other status fails the rest of the
//! batch, which the host writes to the consumer's dead-letter target.
//!
//! The client is `ureq` 2 with one pooled agent (keep-alive) per instance, built without a
//! TLS stack: URLs are `http://`. A sidecar usually posts to a neighbour on the same host or
//! network; put a TLS-terminating proxy in front for anything further.
#![forbid(unsafe_code)]

mod config;
mod consumer;
mod request;

pub use consumer::Webhook;

evhost_sdk::export_plugins!(consumer Webhook);
