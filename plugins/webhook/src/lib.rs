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
//! The client is `ureq` 2 with one pooled agent (keep-alive) per instance; `https://` URLs
//! go over rustls (ring), with the same modes, retries and timeouts as `http://`. A TLS
//! failure (an untrusted certificate, say) is a connection error: retried, then
//! dead-lettered, its reason naming it.
//!
//! Roots: webpki-roots (Mozilla's, compiled in), because a sidecar's image often has no
//! system CA bundle and ureq's rustls support ships them already; `ca_file` covers private CAs.
//!
//! | key | default | meaning |
//! |-----|---------|---------|
//! | `url` | required | where to POST: `http://host:port/path` or `https://...` |
//! | `mode` | `"binary"` | `"binary"`, `"structured"` or `"batched"` |
//! | `headers` | none | extra headers on every request, e.g. `{ authorization = "Bearer ..." }` |
//! | `timeout` | `"5s"` | the limit for one request, connecting and the TLS handshake included |
//! | `pool_size` | 8 | idle connections kept open for reuse |
//! | `keep_alive` | true | false: a new connection per request |
//! | `ca_file` | the webpki roots | `https://` only: a PEM file of the CAs to trust instead (relative to the config file's folder); unreadable, not PEM or without a certificate is a config error |
#![forbid(unsafe_code)]

mod config;
mod consumer;
mod request;
mod tls;

pub use consumer::Webhook;

evhost_sdk::export_plugins!(consumer Webhook);
