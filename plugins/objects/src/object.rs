//! The event shape both modes share: one `ObjectEvent` per change of one object.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, Utc};
use evhost_sdk::OutEvent;
use serde_json::json;

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Created,
    Updated,
    Deleted,
}

impl Change {
    fn event_type(self) -> &'static str {
        match self {
            Change::Created => "dev.evhost.object.created",
            Change::Updated => "dev.evhost.object.updated",
            Change::Deleted => "dev.evhost.object.deleted",
        }
    }
}

/// One change of one object, ready to become an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectEvent {
    pub change: Change,
    pub bucket: String,
    pub key: String,
    /// Bytes; 0 for a deleted object.
    pub size: u64,
    /// Hex MD5 of the content in directory mode (what S3 reports for a single-part
    /// upload); the store's `eTag` in S3 mode; `None` for a deleted object.
    pub etag: Option<String>,
    /// Tells this change of the key from every other: the modification (or deletion) time
    /// in nanoseconds in directory mode, the record's `sequencer` in S3 mode.
    pub version: String,
    /// When the change happened.
    pub time: DateTime<Utc>,
}

impl ObjectEvent {
    /// The CloudEvent: id `<bucket>/<key>/<version>`, source `/objects/<bucket>`, subject
    /// the key, data `{"bucket", "key", "size", "etag"}` (no `etag` when there is none).
    pub fn to_event(&self) -> OutEvent<'static> {
        let mut data = json!({ "bucket": self.bucket, "key": self.key, "size": self.size });
        if let Some(etag) = &self.etag {
            data["etag"] = etag.as_str().into();
        }
        OutEvent::new(
            format!("{}/{}/{}", self.bucket, self.key, self.version),
            format!("/objects/{}", self.bucket),
            self.change.event_type(),
        )
        .subject(Cow::Owned(self.key.clone()))
        .time(self.time.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .datacontenttype("application/json")
        .data(serde_json::to_vec(&data).expect("JSON serializes"))
    }
}
