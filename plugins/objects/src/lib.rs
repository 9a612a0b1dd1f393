//! The `objects` producer: object-storage events, from a local folder watched as a bucket
//! or from an S3-compatible store's bucket notifications, in one event shape.
//!
//! - Directory mode (`path`): inotify (through `notify`) reports a file when its writer
//!   closes it, so a file written slowly is one `created`, after its last byte. Files are
//!   objects; the key is the path below the folder, `/`-separated.
//! - S3 mode (`s3_listen`): an HTTP endpoint for the S3 event message structure that AWS
//!   (directly or through SNS), MinIO and Ceph RGW POST to webhooks.
//!
//! Both emit `dev.evhost.object.created`, `.updated` or `.deleted` with source
//! `/objects/<bucket>`, subject the key, time when the change happened, and data
//! `{"bucket", "key", "size", "etag"}` (see `object`), so a consumer cannot tell a local
//! bucket from a remote one.
//!
//! # Config
//!
//! | key | default | meaning |
//! | --- | --- | --- |
//! | `path` | none | directory mode: the folder to watch as a bucket |
//! | `bucket` | the folder's name | the bucket name in directory mode |
//! | `recursive` | `true` | watch the folders below `path` too |
//! | `include`, `exclude` | `[]` | globs of keys to report / never report (`exclude` wins) |
//! | `initial_scan` | `false` | report the objects already there at start as `created` |
//! | `follow_symlinks` | `false` | follow symlinks, also those that lead out of `path`; without it no link is followed and a file is reported only when its real path is inside `path` (a link inside the tree points at objects reported under their own keys anyway) |
//! | `s3_listen` | none | S3 mode: the address to take notifications on, e.g. `"127.0.0.1:9000"` |
//! | `s3_token` | none | S3 mode: requests need `Authorization: Bearer <token>` (or the bare token) |
//! | `s3_header_timeout` | `"10s"` | a request's head must be complete this long after its first byte |
//! | `s3_body_timeout` | `"30s"` | the whole body must arrive this long after the head; else 408 |
//! | `s3_idle_timeout` | `"60s"` | a connection with no request begun this long is closed |
//! | `s3_max_connections` | `256` | connections served at once; more wait in the kernel's backlog |
//!
//! The S3 endpoint runs on `evhost_http_serve`, the bounded server of the `http` producer
//! (same limits, same defaults, see its docs): at most 100 header fields and 16 KiB of
//! head (431), 8 MiB of body (413), the token checked before the body is read (401), one
//! thread for all connections.
#![forbid(unsafe_code)]

mod config;
mod directory;
mod object;
mod producer;
mod s3;

pub use producer::Objects;

evhost_sdk::export_plugins!(producer Objects);
