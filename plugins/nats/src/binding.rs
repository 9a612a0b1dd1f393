//! The CloudEvents NATS protocol binding, both ways, on the project's one CloudEvents code
//! (`evhost-cloudevents`): binary mode carries the attributes as `ce-*` headers
//! (percent-encoded, as in the HTTP binding) with `datacontenttype` as `content-type` and
//! the data as the payload; structured mode carries the event as CloudEvents JSON with
//! `content-type: application/cloudevents+json`. Pure functions, no I/O.
//!
//! NATS headers are a map: the order of extension attributes does not travel, so decoding
//! sorts them by name (CloudEvents attributes are a set).

use std::borrow::Cow;

use async_nats::HeaderMap;
use evhost_sdk::cloudevents::binary::{from_headers, to_headers};
use evhost_sdk::cloudevents::{from_json, to_json, CloudEvent};
use evhost_sdk::OutEvent;

/// The header JetStream deduplicates by, within the stream's duplicate window.
pub const MSG_ID: &str = "Nats-Msg-Id";
/// The content type of structured mode.
pub const STRUCTURED: &str = "application/cloudevents+json";
/// The type of a message that carries no CloudEvent.
pub const PLAIN_TYPE: &str = "dev.evhost.nats.message";

/// Where a message came from, for the attributes of a plain message's event.
pub enum Origin<'a> {
    /// A JetStream stream: id `<stream>/<sequence>`, source `/nats/<stream>`, time when the
    /// stream stored it.
    Stream { stream: &'a str, sequence: u64, time: String },
    /// A core NATS subscription: a fresh UUID v4 as id, source `/nats`, time when it came.
    Core { time: String },
}

/// The event of a message: binary mode when it has a `ce-specversion` header, structured
/// when its `content-type` is `application/cloudevents+json`, else a plain message. `Err`
/// says why a message that claims to be a CloudEvent is not a valid one.
pub fn decode<'a>(
    subject: &'a str,
    headers: Option<&'a HeaderMap>,
    payload: &'a [u8],
    origin: Origin<'_>,
) -> Result<OutEvent<'a>, String> {
    let pairs = headers.map(lowercase).unwrap_or_default();
    let content_type =
        pairs.iter().find(|(name, _)| name == "content-type").and_then(|(_, v)| std::str::from_utf8(v).ok());
    let essence = content_type.map(|t| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    if pairs.iter().any(|(name, _)| name == "ce-specversion") {
        let borrowed: Vec<(&str, &[u8])> =
            pairs.iter().map(|(name, value)| (name.as_str(), value.as_slice())).collect();
        let mut event = from_headers(&borrowed, None, payload)?;
        event.datacontenttype = content_type.map(|t| Cow::Owned(t.to_owned()));
        event.extensions.sort();
        return Ok(event);
    }
    if essence.as_deref() == Some(STRUCTURED) {
        let value =
            serde_json::from_slice(payload).map_err(|e| format!("malformed JSON in a structured CloudEvent: {e}"))?;
        let mut event = from_json(&value).map_err(|e| format!("invalid CloudEvent: {e}"))?;
        event.extensions.sort();
        return Ok(event);
    }
    let (id, source, time) = match origin {
        Origin::Stream { stream, sequence, time } => (format!("{stream}/{sequence}"), format!("/nats/{stream}"), time),
        Origin::Core { time } => (uuid::Uuid::new_v4().to_string(), "/nats".to_owned(), time),
    };
    let mut event = OutEvent::new(id, source, PLAIN_TYPE).subject(subject).time(time).data(payload);
    event.datacontenttype = content_type.map(|t| Cow::Owned(t.to_owned()));
    Ok(event)
}

/// Header names in lower case with every value, as `from_headers` reads them; names in
/// order, so a repeated attribute is found whatever the map's order.
fn lowercase(headers: &HeaderMap) -> Vec<(String, Vec<u8>)> {
    let mut pairs: Vec<(String, Vec<u8>)> = headers
        .iter()
        .flat_map(|(name, values)| {
            let name = AsRef::<str>::as_ref(name).to_ascii_lowercase();
            values.iter().map(move |value| (name.clone(), value.as_str().as_bytes().to_vec()))
        })
        .collect();
    pairs.sort();
    pairs
}

/// Binary mode: the headers (with `Nats-Msg-Id` = the id); the payload is the event's data.
pub fn binary(event: &impl CloudEvent) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in to_headers(event) {
        headers.insert(name, value);
    }
    headers.insert(MSG_ID, event.id());
    headers
}

/// Structured mode: the headers (`content-type`, `Nats-Msg-Id`) and the JSON payload.
pub fn structured(event: &impl CloudEvent) -> (HeaderMap, Vec<u8>) {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", STRUCTURED);
    headers.insert(MSG_ID, event.id());
    let payload = serde_json::to_vec(&to_json(event)).expect("a JSON map serializes");
    (headers, payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> OutEvent<'static> {
        OutEvent::new("42", "/orders", "com.example.created")
            .subject("café \"au\" lait 100%\r\n")
            .time("2024-05-01T00:00:00Z")
            .dataschema("/schema")
            .datacontenttype("text/plain; charset=utf-8")
            .data(&b"hello"[..])
            .extension("traceparent", "00-abc-01")
            .extension("b", "2")
    }

    fn sorted(mut event: OutEvent<'static>) -> OutEvent<'static> {
        event.extensions.sort();
        event
    }

    fn stream() -> Origin<'static> {
        Origin::Stream { stream: "S", sequence: 9, time: "2026-01-01T00:00:00Z".into() }
    }

    #[test]
    fn binary_mode_is_the_inverse_of_decoding() {
        let sent = event();
        let headers = binary(&sent);
        assert_eq!(headers.get(MSG_ID).map(|v| v.as_str()), Some("42"));
        assert!(headers.iter().all(|(_, values)| values.iter().all(|v| !v.as_str().contains(['\r', '\n']))));
        let received = decode("events.x", Some(&headers), &sent.data, stream()).unwrap();
        assert_eq!(received, sorted(sent.clone()));
    }

    #[test]
    fn structured_mode_is_the_inverse_of_decoding() {
        let sent = event().datacontenttype("application/json").data(&br#"{"a":[1,2]}"#[..]);
        let (headers, payload) = structured(&sent);
        let received = decode("events.x", Some(&headers), &payload, stream()).unwrap();
        assert_eq!(received, sorted(sent.clone()));
    }

    #[test]
    fn a_plain_message_gets_the_documented_attributes() {
        let mut headers = HeaderMap::new();
        headers.insert("Content-Type", "text/plain");
        let event = decode("orders.eu", Some(&headers), b"hi", stream()).unwrap();
        assert_eq!((&*event.id, &*event.source, &*event.ty), ("S/9", "/nats/S", PLAIN_TYPE));
        assert_eq!(event.subject.as_deref(), Some("orders.eu"));
        assert_eq!(event.time.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(event.datacontenttype.as_deref(), Some("text/plain"));
        assert_eq!(&*event.data, b"hi");
        let core = decode("a", None, b"", Origin::Core { time: "2026-01-01T00:00:00Z".into() }).unwrap();
        assert_eq!((core.id.len(), &*core.source), (36, "/nats"));
    }

    #[test]
    fn invalid_cloudevents_say_why() {
        let mut headers = HeaderMap::new();
        headers.insert("ce-specversion", "1.0");
        headers.insert("ce-source", "/s");
        headers.insert("ce-type", "t");
        assert!(decode("a", Some(&headers), b"", stream()).unwrap_err().contains("ce-id"));
        let mut headers = HeaderMap::new();
        headers.insert("content-type", STRUCTURED);
        assert!(decode("a", Some(&headers), b"{", stream()).unwrap_err().starts_with("malformed JSON"));
        assert!(decode("a", Some(&headers), br#"{"specversion":"1.0"}"#, stream())
            .unwrap_err()
            .contains("invalid CloudEvent"));
    }
}
