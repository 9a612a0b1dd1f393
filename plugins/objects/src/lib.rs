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
#![forbid(unsafe_code)]

mod config;
mod directory;
mod object;
mod producer;
mod s3;

pub use producer::Objects;

evhost_sdk::export_plugins!(producer Objects);
