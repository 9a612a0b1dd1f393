//! The CloudEvents HTTP protocol binding, receiving side: one request (head and whole body)
//! to the events it carries. Pure functions, no I/O, so every mode is tested here without a
//! server.
//!
//! The mode comes from the Content-Type first, as the binding prescribes: structured
//! (`application/cloudevents+json`), batched (`application/cloudevents-batch+json`), another
//! `application/cloudevents...` format (415: not supported); otherwise binary when a
//! `ce-specversion` header is present; otherwise a plain request, which becomes one event of
//! the configured type.

use std::borrow::Cow;

use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use chrono::{SecondsFormat, Utc};
use evhost_sdk::cloudevents::attributes::is_rfc3339;
use evhost_sdk::cloudevents::binary::from_headers;
use evhost_sdk::cloudevents::from_json;
use evhost_sdk::OutEvent;
use serde_json::Value;

/// Why a request carries no acceptable event: the status and a reason for the client.
#[derive(Debug)]
pub struct Rejection {
    pub status: StatusCode,
    pub reason: String,
}

impl Rejection {
    fn bad(reason: impl Into<String>) -> Self {
        Rejection { status: StatusCode::BAD_REQUEST, reason: reason.into() }
    }
}

/// The event(s) of one request, in order: emit them as one batch.
///
/// `plain_type` is the type of a plain request's event. Events borrow the request's path and
/// body where they can.
pub fn events<'a>(parts: &'a Parts, body: &'a [u8], plain_type: &'a str) -> Result<Vec<OutEvent<'a>>, Rejection> {
    let content_type = match parts.headers.get(CONTENT_TYPE) {
        None => None,
        Some(value) => {
            Some(value.to_str().map_err(|_| Rejection::bad("the Content-Type header is not visible ASCII"))?)
        }
    };
    let essence = content_type.map(|t| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    let events = match essence.as_deref() {
        Some("application/cloudevents+json") => vec![structured(body)?],
        Some("application/cloudevents-batch+json") => batched(body)?,
        Some(other) if other.starts_with("application/cloudevents") => {
            return Err(Rejection {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                reason: format!("the event format {other:?} is not supported; send application/cloudevents+json, application/cloudevents-batch+json or binary mode (ce-* headers)"),
            })
        }
        _ if parts.headers.contains_key("ce-specversion") => vec![binary(&parts.headers, content_type, body)?],
        _ => vec![plain(parts, content_type, body, plain_type)],
    };
    // The host refuses such a time too, but says why only in its own log.
    let bad_time = events
        .iter()
        .enumerate()
        .find_map(|(i, e)| e.time.as_deref().filter(|t| !t.is_empty() && !is_rfc3339(t)).map(|t| (i, t)));
    if let Some((i, time)) = bad_time {
        let which = if essence.as_deref() == Some("application/cloudevents-batch+json") {
            format!(" at index {i} of the batch")
        } else {
            String::new()
        };
        return Err(Rejection::bad(format!(
            "invalid CloudEvent{which}: time {time:?} is not an RFC 3339 timestamp; write it like 2026-11-27T21:17:42Z; nothing was accepted"
        )));
    }
    Ok(events)
}

fn parse_json(body: &[u8]) -> Result<Value, Rejection> {
    serde_json::from_slice(body).map_err(|e| Rejection::bad(format!("malformed JSON: {e}")))
}

fn structured(body: &[u8]) -> Result<OutEvent<'static>, Rejection> {
    from_json(&parse_json(body)?).map_err(|e| Rejection::bad(format!("invalid CloudEvent: {e}")))
}

/// All events or none: one bad event rejects the whole batch.
fn batched(body: &[u8]) -> Result<Vec<OutEvent<'static>>, Rejection> {
    let Value::Array(items) = parse_json(body)? else {
        return Err(Rejection::bad("a batch (application/cloudevents-batch+json) must be a JSON array of events"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            from_json(item).map_err(|e| {
                Rejection::bad(format!("invalid CloudEvent at index {i} of the batch: {e}; nothing was accepted"))
            })
        })
        .collect()
}

/// Binary mode: the attributes in `ce-*` headers, the data in the body.
fn binary<'a>(headers: &HeaderMap, content_type: Option<&'a str>, body: &'a [u8]) -> Result<OutEvent<'a>, Rejection> {
    let headers: Vec<_> = headers.iter().map(|(name, value)| (name.as_str(), value.as_bytes())).collect();
    from_headers(&headers, content_type, body).map_err(Rejection::bad)
}

fn plain<'a>(parts: &'a Parts, content_type: Option<&'a str>, body: &'a [u8], ty: &'a str) -> OutEvent<'a> {
    let mut event = OutEvent::new(uuid::Uuid::new_v4().to_string(), parts.uri.path(), ty)
        .time(now_rfc3339())
        .data(body)
        .extension("method", parts.method.as_str());
    event.datacontenttype = content_type.map(Cow::Borrowed);
    if let Some(query) = parts.uri.query().filter(|q| !q.is_empty()) {
        event = event.extension("query", query);
    }
    event
}

/// The current time in RFC 3339, UTC, to the microsecond.
fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(method: &str, uri: &str, headers: &[(&str, &[u8])]) -> Parts {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    fn reason(result: Result<Vec<OutEvent<'_>>, Rejection>) -> String {
        let rejection = result.unwrap_err();
        assert_eq!(rejection.status, StatusCode::BAD_REQUEST, "{rejection:?}");
        rejection.reason
    }

    #[test]
    fn binary_mode_reads_headers_and_extensions() {
        let p = parts(
            "POST",
            "/x",
            &[
                ("ce-specversion", b"1.0"),
                ("ce-id", b"42"),
                ("ce-source", b"/orders"),
                ("ce-type", b"com.example.created"),
                ("ce-subject", b"caf%C3%A9%20au%20lait"),
                ("ce-time", b"2024-05-01T00:00:00Z"),
                ("ce-TraceParent", b"00-abc-01"),
                ("content-type", b"text/plain"),
            ],
        );
        let events = events(&p, b"hello", "t").unwrap();
        let event = &events[0];
        assert_eq!((&*event.id, &*event.source, &*event.ty), ("42", "/orders", "com.example.created"));
        assert_eq!(event.subject.as_deref(), Some("café au lait"));
        assert_eq!(event.time.as_deref(), Some("2024-05-01T00:00:00Z"));
        assert_eq!(event.datacontenttype.as_deref(), Some("text/plain"));
        assert_eq!(&*event.data, b"hello");
        assert_eq!(event.extensions, vec![(Cow::from("traceparent"), Cow::from("00-abc-01"))]);
    }

    #[test]
    fn binary_mode_rejects_bad_events() {
        let base: [(&str, &[u8]); 3] = [("ce-specversion", b"1.0"), ("ce-source", b"/s"), ("ce-type", b"t")];
        assert!(reason(events(&parts("POST", "/", &base), b"", "t")).contains("ce-id"));
        let mut bad_name = base.to_vec();
        bad_name.extend([("ce-id", &b"1"[..]), ("ce-my_ext", b"v")]);
        assert!(reason(events(&parts("POST", "/", &bad_name), b"", "t")).contains("my_ext"));
        let old = [("ce-specversion", &b"0.3"[..]), ("ce-id", b"1"), ("ce-source", b"/s"), ("ce-type", b"t")];
        assert!(reason(events(&parts("POST", "/", &old), b"", "t")).contains("0.3"));
    }

    #[test]
    fn structured_and_batched() {
        let p = parts("POST", "/", &[("content-type", b"application/cloudevents+json; charset=utf-8")]);
        let event =
            &events(&p, br#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"a":1}}"#, "t").unwrap()[0];
        assert_eq!(&*event.data, br#"{"a":1}"#);
        assert!(reason(events(&p, b"{not json", "t")).starts_with("malformed JSON"));
        assert!(reason(events(&p, br#"{"specversion":"1.0","id":"1","type":"t"}"#, "t")).contains("`source`"));

        let p = parts("POST", "/", &[("content-type", b"application/cloudevents-batch+json")]);
        let batch = br#"[{"specversion":"1.0","id":"1","source":"/s","type":"t"},{"specversion":"1.0","id":"2","source":"/s","type":"t"}]"#;
        assert_eq!(events(&p, batch, "t").unwrap().len(), 2);
        let bad = br#"[{"specversion":"1.0","id":"1","source":"/s","type":"t"},{"specversion":"1.0","source":"/s","type":"t"}]"#;
        assert!(reason(events(&p, bad, "t")).contains("index 1"));
        assert!(reason(events(&p, b"{}", "t")).contains("JSON array"));

        let p = parts("POST", "/", &[("content-type", b"application/cloudevents+xml")]);
        assert_eq!(events(&p, b"<e/>", "t").unwrap_err().status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[test]
    fn plain_requests() {
        let p = parts("PUT", "/hooks/github?x=1&y=2", &[("content-type", b"application/json")]);
        let events = events(&p, b"{}", "dev.example").unwrap();
        let event = &events[0];
        assert_eq!((&*event.source, &*event.ty), ("/hooks/github", "dev.example"));
        assert_eq!(event.id.len(), 36);
        assert_eq!(event.datacontenttype.as_deref(), Some("application/json"));
        assert_eq!(
            event.extensions,
            vec![(Cow::from("method"), Cow::from("PUT")), (Cow::from("query"), Cow::from("x=1&y=2"))]
        );
        let p = parts("POST", "/", &[]);
        assert_eq!(super::events(&p, b"", "t").unwrap()[0].extensions.len(), 1, "no query, no `query`");
    }

    #[test]
    fn the_time_of_a_plain_request_is_rfc_3339() {
        assert!(is_rfc3339(now_rfc3339()), "{}", now_rfc3339());
    }
}

#[cfg(test)]
#[path = "binding_props.rs"]
mod props;
