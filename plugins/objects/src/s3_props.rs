//! Property tests of the S3 notification parser (the `s3` fuzz target; see
//! docs/fuzzing.md): no body makes it panic; what it accepts becomes events the host takes;
//! valid records, plain or in an SNS envelope, map to one event each, in order. The
//! committed corpus in `fuzz-corpus/s3/` is replayed on every run.

use chrono::SecondsFormat;
use evhost_fuzz_support::{config, rfc3339_time};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

/// The host's rule for `time` (host/src/loader/ingest.rs), which the parser's events must
/// pass, or the whole notification is refused after it was parsed.
fn host_takes_time(time: &str) -> bool {
    time.is_ascii()
        && time.as_bytes().get(10) == Some(&b'T')
        && !time.contains('z')
        && DateTime::parse_from_rfc3339(time).is_ok_and(|t| t.timestamp_subsec_nanos() < 1_000_000_000)
}

/// What every parsed event must be: an event the host takes.
fn assert_takes(events: &[ObjectEvent]) {
    for object in events {
        assert!(!object.bucket.is_empty() && !object.key.is_empty(), "{object:?}");
        let event = object.to_event();
        assert!(!event.id.is_empty() && !event.source.is_empty() && !event.ty.is_empty());
        let time = event.time.as_deref().expect("a time");
        assert!(host_takes_time(time), "{object:?} has the time {time:?}, which the host refuses");
    }
}

fn parsed(body: &[u8]) -> Result<Parsed, String> {
    parse(body, &AtomicI64::new(0))
}

/// An `eventTime` as stores write it, or as they should not.
fn event_time() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => rfc3339_time(0..61),
        1 => prop::sample::select(vec![
            "2024-05-01T12:00:00.000Z",
            "2016-12-31T23:59:60Z",
            "0000-01-01T00:30:00+01:00",
            "9999-12-31T23:30:00-01:00",
            "2024-05-01t12:00:00z",
            "2024-05-01 12:00:00Z",
            "yesterday",
        ])
        .prop_map(str::to_owned),
    ]
}

/// A valid record's parts, and what the parser must make of it.
#[derive(Debug, Clone)]
struct Record {
    event_name: String,
    bucket: String,
    key: String,
    size: Option<u64>,
    etag: Option<String>,
    sequencer: Option<String>,
    time: Option<DateTime<Utc>>,
}

/// Form-encodes a key as S3 does: a space is `+`, anything but unreserved characters and
/// `/` is `%XX`.
fn form_encode(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b' ' => "+".to_owned(),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Record {
    fn change(&self) -> Option<Change> {
        let name = self.event_name.strip_prefix("s3:").unwrap_or(&self.event_name);
        match name.split(':').next() {
            Some("ObjectCreated") => Some(Change::Created),
            Some("ObjectRemoved" | "LifecycleExpiration") => Some(Change::Deleted),
            _ => None,
        }
    }

    fn json(&self) -> Value {
        let mut object = json!({ "key": form_encode(&self.key) });
        if let Some(size) = self.size {
            object["size"] = size.into();
        }
        if let Some(etag) = &self.etag {
            object["eTag"] = format!("\"{etag}\"").into();
        }
        if let Some(sequencer) = &self.sequencer {
            object["sequencer"] = sequencer.as_str().into();
        }
        let mut record = json!({
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventName": self.event_name,
            "s3": { "s3SchemaVersion": "1.0", "bucket": { "name": self.bucket, "arn": "arn:aws:s3:::b" }, "object": object },
        });
        if let Some(time) = self.time {
            record["eventTime"] = time.to_rfc3339_opts(SecondsFormat::AutoSi, true).into();
        }
        record
    }

    /// Asserts that `event` is this record's object event.
    fn assert_maps_to(&self, event: &ObjectEvent, change: Change) {
        assert_eq!((event.change, &event.bucket, &event.key), (change, &self.bucket, &self.key));
        let deleted = change == Change::Deleted;
        assert_eq!(event.size, if deleted { 0 } else { self.size.unwrap_or(0) });
        let etag = self.etag.as_deref().filter(|t| !deleted && !t.is_empty());
        assert_eq!(event.etag.as_deref(), etag);
        match self.sequencer.as_deref().filter(|s| !s.is_empty()) {
            Some(sequencer) => assert_eq!(event.version, sequencer),
            None => assert!(!event.version.is_empty()),
        }
        if let Some(time) = self.time {
            assert_eq!(event.time, time);
        }
    }
}

fn record() -> impl Strategy<Value = Record> {
    let name = prop::sample::select(vec![
        "ObjectCreated:Put",
        "s3:ObjectCreated:CompleteMultipartUpload",
        "ObjectCreated:Copy",
        "s3:ObjectRemoved:Delete",
        "ObjectRemoved:DeleteMarkerCreated",
        "LifecycleExpiration:Delete",
        "s3:ObjectTagging:Put",
        "ObjectRestore:Completed",
    ]);
    let key = prop_oneof!["[a-zA-Z0-9/._ -]{1,24}", "\\PC{1,12}", "[+%~ ()]{1,6}"];
    let time = (0i64..253_402_300_799, 0u32..1_000_000_000)
        .prop_map(|(secs, nanos)| DateTime::from_timestamp(secs, nanos).expect("in range"));
    (
        name,
        "[a-z0-9.-]{1,20}",
        key,
        prop::option::of(any::<u64>()),
        prop::option::of("[0-9a-f]{0,32}(-[0-9]{1,3})?"),
        prop::option::of("[0-9A-F]{0,18}"),
        prop::option::of(time),
    )
        .prop_map(|(name, bucket, key, size, etag, sequencer, time)| Record {
            event_name: name.to_owned(),
            bucket,
            key,
            size,
            etag,
            sequencer,
            time,
        })
}

/// A JSON value of any shape, for fields the parser expects to be something else.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A body a store, a proxy or an attacker might send: noise, or S3 messages with fields
/// taken out, of the wrong type, or odd, in an SNS envelope or not.
fn any_body() -> impl Strategy<Value = Vec<u8>> {
    let field = prop::sample::select(vec![
        "/Records",
        "/Records/0/eventName",
        "/Records/0/eventTime",
        "/Records/0/s3",
        "/Records/0/s3/bucket/name",
        "/Records/0/s3/object",
        "/Records/0/s3/object/key",
        "/Records/0/s3/object/size",
        "/Records/0/s3/object/eTag",
        "/Records/0/s3/object/sequencer",
    ]);
    let message = move || {
        (prop::collection::vec(record(), 1..4), field.clone(), any_json(), event_time()).prop_map(
            |(records, field, odd, time)| {
                let mut message = json!({ "Records": records.iter().map(Record::json).collect::<Vec<_>>() });
                message["Records"][0]["eventTime"] = time.into();
                if let Some(slot) = message.pointer_mut(field) {
                    *slot = odd;
                }
                message
            },
        )
    };
    let envelope = prop_oneof![
        message().prop_map(|m| json!({ "Type": "Notification", "Message": m.to_string() })),
        message().prop_map(|m| json!({ "Type": "Notification", "Message": m })),
        any_json().prop_map(|url| json!({ "Type": "SubscriptionConfirmation", "SubscribeURL": url })),
        Just(json!({ "Event": "s3:TestEvent", "Records": null })),
    ];
    prop_oneof![
        4 => message().prop_map(|m| m.to_string().into_bytes()),
        1 => envelope.prop_map(|m| m.to_string().into_bytes()),
        1 => any_json().prop_map(|m| m.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

proptest! {
    #![proptest_config(config(5000))]

    #[test]
    fn no_body_makes_it_panic(body in any_body()) {
        match parsed(&body) {
            Ok(Parsed::Events(events)) => assert_takes(&events),
            Ok(Parsed::Subscribe(_)) => {}
            Err(why) => prop_assert!(!why.is_empty()),
        }
    }

    #[test]
    fn valid_records_map_to_events(records in prop::collection::vec(record(), 0..6), sns in any::<bool>()) {
        let mut message = json!({ "Records": records.iter().map(Record::json).collect::<Vec<_>>() });
        if sns {
            message = json!({ "Type": "Notification", "MessageId": "m", "Message": message.to_string() });
        }
        let Parsed::Events(events) = parsed(message.to_string().as_bytes()).unwrap_or_else(|why| panic!("{why}")) else {
            panic!("not events");
        };
        let changes: Vec<_> = records.iter().filter_map(|r| r.change().map(|c| (r, c))).collect();
        prop_assert_eq!(events.len(), changes.len());
        for ((record, change), event) in changes.into_iter().zip(&events) {
            record.assert_maps_to(event, change);
        }
        assert_takes(&events);
    }

    #[test]
    fn an_event_time_is_refused_or_taken_by_the_host(record in record(), time in event_time()) {
        let mut json = record.json();
        json["eventTime"] = time.as_str().into();
        let body = json!({ "Records": [json] }).to_string();
        match parsed(body.as_bytes()) {
            Ok(Parsed::Events(events)) => assert_takes(&events),
            Ok(Parsed::Subscribe(url)) => panic!("a subscription to {url}"),
            Err(why) => prop_assert!(why.starts_with("record 0: `eventTime`"), "{}", why),
        }
    }
}

/// Every file in `fuzz-corpus/s3/`: `accept-*` must parse into events the host takes (or a
/// subscription), `refuse-*` must be refused.
#[test]
fn the_corpus_replays() {
    for (name, file) in evhost_fuzz_support::corpus(env!("CARGO_MANIFEST_DIR"), "s3", 8) {
        let got = parsed(&std::fs::read(&file).expect("a corpus file"));
        match (name.split('-').next(), got) {
            (Some("accept"), Ok(Parsed::Events(events))) => assert_takes(&events),
            (Some("accept"), Ok(Parsed::Subscribe(_))) => {}
            (Some("refuse"), Err(why)) => assert!(!why.is_empty(), "{name}"),
            (_, got) => panic!("{name}: got {got:?}"),
        }
    }
}
