//! S3 mode: an HTTP endpoint for bucket notifications in the S3 event message structure
//! (`Records[].eventName`, `s3.bucket.name`, `s3.object.key`, `size`, `eTag`), as AWS,
//! MinIO and Ceph RGW send them; AWS through SNS wraps them in a `Notification`.
//!
//! One POST is one batch: every record becomes an event, all emitted together, and the
//! answer comes after: 200 once the host accepted them, 503 with `Retry-After` when its log
//! is full (the store sends again), 400 with a reason for a body that is not such a message.
//!
//! The endpoint runs on the same bounded server as the `http` producer
//! (`evhost_http_serve`): a head is bounded in size and time before anything else, the
//! token is checked before a byte of the body is read, the body is bounded in size (8 MiB)
//! and time, idle connections are closed, and connections are tasks on one thread, at most
//! `s3_max_connections` of them.

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};
use evhost_http_serve::{head_too_large, read_body, BodyError, Limits, Stats};
use evhost_sdk::{Context, EmitError, Emitter};
use http_body_util::Full;
use hyper::body::{Body, Bytes};
use hyper::header::{HeaderValue, ALLOW, AUTHORIZATION, CONNECTION, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;
use serde::Deserialize;

use crate::object::{Change, ObjectEvent};

/// The largest body read; S3 sends one record per message, MinIO a few.
const MAX_BODY_BYTES: usize = 8 << 20;

/// How long requests in flight may take to finish once the host asked us to stop.
const GRACE: Duration = Duration::from_secs(5);

/// What every request needs.
struct Shared {
    token: Option<String>,
    limits: Limits,
    counter: AtomicI64,
    ctx: Context,
    /// `try_emit` never waits, so one emitter behind a lock serves every request.
    emitter: Mutex<Emitter>,
}

/// Serves requests until `stop` resolves, on the caller's tokio runtime: the same bounded
/// server as the `http` producer (timeouts, a connection limit, no thread per connection).
pub async fn serve(
    listener: tokio::net::TcpListener,
    limits: Limits,
    token: Option<String>,
    ctx: &Context,
    emitter: Emitter,
    stop: impl Future<Output = ()>,
) -> Stats {
    let shared = Arc::new(Shared {
        token,
        limits: limits.clone(),
        counter: AtomicI64::new(0),
        ctx: ctx.clone(),
        emitter: Mutex::new(emitter),
    });
    let handler = move |request| answer(shared.clone(), request);
    evhost_http_serve::serve(listener, limits, &|m| ctx.warn(m), handler, stop, GRACE).await
}

async fn answer<B>(shared: Arc<Shared>, request: Request<B>) -> Response<Full<Bytes>>
where
    B: Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let (status, body) = handle(&shared, request).await;
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let extra = match status {
        StatusCode::SERVICE_UNAVAILABLE => Some((RETRY_AFTER, "1")),
        StatusCode::METHOD_NOT_ALLOWED => Some((ALLOW, "POST")),
        // The rest of a body that came too slowly is not read: the connection cannot go on.
        StatusCode::REQUEST_TIMEOUT => Some((CONNECTION, "close")),
        _ => None,
    };
    if let Some((name, value)) = extra {
        response.headers_mut().insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The status and body to answer one request with, after emitting its events. The head is
/// checked first, then the token; the body is read only for a request that passed both.
async fn handle<B>(shared: &Shared, request: Request<B>) -> (StatusCode, String)
where
    B: Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let (parts, body) = request.into_parts();
    if let Some(reason) = head_too_large(&parts, &shared.limits) {
        return (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, format!("{reason}\n"));
    }
    if parts.method != Method::POST {
        return (StatusCode::METHOD_NOT_ALLOWED, "send S3 event notifications with POST\n".into());
    }
    if let Some(token) = &shared.token {
        let given = parts.headers.get(AUTHORIZATION).map(HeaderValue::as_bytes).unwrap_or_default();
        let given = given.strip_prefix(b"Bearer ").unwrap_or(given);
        if !same(given, token.as_bytes()) {
            return (
                StatusCode::UNAUTHORIZED,
                "a missing or wrong token: send Authorization: Bearer <s3_token>\n".into(),
            );
        }
    }
    let body = match read_body(&parts, body, MAX_BODY_BYTES, shared.limits.body_timeout).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, format!("the body is over {MAX_BODY_BYTES} bytes\n"))
        }
        Err(BodyError::Timeout) => {
            return (
                StatusCode::REQUEST_TIMEOUT,
                format!("the body did not arrive within s3_body_timeout ({:?})\n", shared.limits.body_timeout),
            )
        }
        Err(BodyError::Read(e)) => return (StatusCode::BAD_REQUEST, format!("cannot read the body: {e}\n")),
    };
    let events = match parse(&body, &shared.counter) {
        Ok(Parsed::Events(events)) => events,
        Ok(Parsed::Subscribe(url)) => {
            shared.ctx.warn(format!("SNS asks to confirm a subscription: open {url} to confirm it"));
            return (StatusCode::OK, String::new());
        }
        Err(why) => return (StatusCode::BAD_REQUEST, format!("{why}\n")),
    };
    let out: Vec<_> = events.iter().map(ObjectEvent::to_event).collect();
    let result = shared.emitter.lock().unwrap_or_else(PoisonError::into_inner).try_emit(&out);
    match result {
        Ok(()) => (StatusCode::OK, format!("{{\"events\":{}}}\n", out.len())),
        Err(EmitError::Busy) => (StatusCode::SERVICE_UNAVAILABLE, "the event log is full; send again later\n".into()),
        Err(EmitError::Stopped) => (StatusCode::SERVICE_UNAVAILABLE, "evhost is stopping\n".into()),
        Err(e @ (EmitError::Invalid(_) | EmitError::TooLarge)) => (StatusCode::BAD_REQUEST, format!("{e}\n")),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    }
}

/// Constant-time comparison, so that a token cannot be guessed byte by byte from timing.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Deserialize)]
struct Message {
    #[serde(rename = "Records")]
    records: Option<Vec<Record>>,
    /// SNS: "Notification" (the S3 message is the `Message` string) or
    /// "SubscriptionConfirmation".
    #[serde(rename = "Type")]
    sns_type: Option<String>,
    #[serde(rename = "Message")]
    sns_message: Option<String>,
    #[serde(rename = "SubscribeURL")]
    subscribe_url: Option<String>,
    /// "s3:TestEvent", which S3 sends when notifications are set up.
    #[serde(rename = "Event")]
    event: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    event_name: String,
    event_time: Option<String>,
    s3: Entity,
}

#[derive(Deserialize)]
struct Entity {
    bucket: BucketEntity,
    object: ObjectEntity,
}

#[derive(Deserialize)]
struct BucketEntity {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObjectEntity {
    key: String,
    size: Option<u64>,
    e_tag: Option<String>,
    sequencer: Option<String>,
}

/// What one message asks for.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// The object events of its records, in order (records of other kinds left out).
    Events(Vec<ObjectEvent>),
    /// An SNS subscription to confirm by visiting this URL.
    Subscribe(String),
}

/// Reads one notification body. `counter` makes versions for records without a
/// `sequencer`.
pub fn parse(body: &[u8], counter: &AtomicI64) -> Result<Parsed, String> {
    let message: Message = serde_json::from_slice(body).map_err(|e| format!("not an S3 event message: {e}"))?;
    match message.sns_type.as_deref() {
        Some("SubscriptionConfirmation") => {
            return message
                .subscribe_url
                .map(Parsed::Subscribe)
                .ok_or_else(|| "an SNS SubscriptionConfirmation without SubscribeURL".into());
        }
        Some("Notification") => {
            let inner = message.sns_message.ok_or("an SNS Notification without Message")?;
            return parse(inner.as_bytes(), counter);
        }
        _ => {}
    }
    let records = match (message.records, message.event.as_deref()) {
        (Some(records), _) => records,
        (None, Some("s3:TestEvent")) => Vec::new(),
        (None, _) => return Err("not an S3 event message: no `Records` array".into()),
    };
    let mut events = Vec::with_capacity(records.len());
    for (i, record) in records.into_iter().enumerate() {
        if let Some(event) = object_event(record, counter).map_err(|why| format!("record {i}: {why}"))? {
            events.push(event);
        }
    }
    Ok(Parsed::Events(events))
}

fn object_event(record: Record, counter: &AtomicI64) -> Result<Option<ObjectEvent>, String> {
    let name = record.event_name.strip_prefix("s3:").unwrap_or(&record.event_name);
    let change = if name.starts_with("ObjectCreated:") {
        Change::Created
    } else if name.starts_with("ObjectRemoved:") || name.starts_with("LifecycleExpiration:") {
        Change::Deleted
    } else {
        return Ok(None);
    };
    let key = decode_key(&record.s3.object.key)?;
    let bucket = record.s3.bucket.name;
    if bucket.is_empty() || key.is_empty() {
        return Err("`s3.bucket.name` and `s3.object.key` must not be empty".into());
    }
    let time = match record.event_time {
        Some(text) => event_time(&text)?,
        None => Utc::now(),
    };
    let version = match record.s3.object.sequencer.filter(|s| !s.is_empty()) {
        Some(sequencer) => sequencer,
        None => {
            format!("{}-{}", time.timestamp_nanos_opt().unwrap_or_default(), counter.fetch_add(1, Ordering::Relaxed))
        }
    };
    let (size, etag) = match change {
        Change::Deleted => (0, None),
        _ => (
            record.s3.object.size.unwrap_or(0),
            record.s3.object.e_tag.map(|t| t.trim_matches('"').to_owned()).filter(|t| !t.is_empty()),
        ),
    };
    Ok(Some(ObjectEvent { change, bucket, key, size, etag, version, time }))
}

/// An `eventTime` in UTC, refused unless the event's `time` can carry it: the host (and
/// consumers' parsers) refuse a leap second and a year outside 0000 to 9999, and would
/// refuse the whole notification for it after it was parsed.
fn event_time(text: &str) -> Result<DateTime<Utc>, String> {
    let time = DateTime::parse_from_rfc3339(text)
        .map_err(|e| format!("`eventTime` {text:?} is not RFC 3339: {e}"))?
        .with_timezone(&Utc);
    if time.timestamp_subsec_nanos() >= 1_000_000_000 {
        return Err(format!("`eventTime` {text:?} is a leap second, which event times cannot carry; send :59 instead"));
    }
    if !(0..=9999).contains(&time.year()) {
        return Err(format!("`eventTime` {text:?} is outside the years 0000 to 9999 in UTC"));
    }
    Ok(time)
}

/// S3 sends keys form-encoded: `+` is a space, `%XX` a byte.
fn decode_key(raw: &str) -> Result<String, String> {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|_| format!("`s3.object.key` {raw:?} does not decode to UTF-8"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record(name: &str, key: &str) -> serde_json::Value {
        json!({
            "eventVersion": "2.1", "eventSource": "aws:s3", "eventTime": "2024-05-01T12:00:00.000Z", "eventName": name,
            "s3": { "bucket": { "name": "b" }, "object": { "key": key, "size": 7, "eTag": "\"abc\"", "sequencer": "0055AED6DCD90281E5" } }
        })
    }

    fn events(body: serde_json::Value) -> Result<Vec<ObjectEvent>, String> {
        match parse(body.to_string().as_bytes(), &AtomicI64::new(0))? {
            Parsed::Events(events) => Ok(events),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keys_are_form_decoded() {
        assert_eq!(decode_key("photos/my+summer%281%29.jpg").unwrap(), "photos/my summer(1).jpg");
        assert_eq!(decode_key("a%2Bb%20c").unwrap(), "a+b c");
        assert!(decode_key("%FF").is_err());
    }

    #[test]
    fn records_map_to_changes() {
        let got = events(json!({ "Records": [record("ObjectCreated:Put", "a+b"), record("s3:ObjectRemoved:Delete", "c"), record("s3:ObjectTagging:Put", "d")] })).unwrap();
        assert_eq!(got.len(), 2, "tagging is not an object change");
        assert_eq!(
            (got[0].change, got[0].key.as_str(), got[0].size, got[0].etag.as_deref()),
            (Change::Created, "a b", 7, Some("abc"))
        );
        assert_eq!((got[1].change, got[1].size, got[1].etag.as_deref()), (Change::Deleted, 0, None));
        assert_eq!(got[0].version, "0055AED6DCD90281E5");
    }

    #[test]
    fn sns_envelopes_and_test_events() {
        let inner = json!({ "Records": [record("ObjectCreated:Copy", "k")] }).to_string();
        assert_eq!(events(json!({ "Type": "Notification", "Message": inner })).unwrap().len(), 1);
        assert_eq!(events(json!({ "Service": "Amazon S3", "Event": "s3:TestEvent" })).unwrap(), vec![]);
        let confirm = json!({ "Type": "SubscriptionConfirmation", "SubscribeURL": "https://sns.example/confirm" });
        assert_eq!(
            parse(confirm.to_string().as_bytes(), &AtomicI64::new(0)),
            Ok(Parsed::Subscribe("https://sns.example/confirm".into()))
        );
    }

    #[test]
    fn malformed_messages_say_why() {
        assert!(parse(b"{", &AtomicI64::new(0)).unwrap_err().contains("not an S3 event message"));
        assert!(events(json!({ "hello": 1 })).unwrap_err().contains("no `Records`"));
        assert!(events(json!({ "Records": [{ "eventName": "ObjectCreated:Put" }] }))
            .unwrap_err()
            .contains("not an S3 event message"));
        let mut bad_time = record("ObjectCreated:Put", "k");
        bad_time["eventTime"] = "yesterday".into();
        assert!(events(json!({ "Records": [bad_time] })).unwrap_err().contains("record 0: `eventTime`"));
    }
}

#[cfg(test)]
#[path = "s3_props.rs"]
mod props;
