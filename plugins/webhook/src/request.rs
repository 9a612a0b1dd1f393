//! The body and headers of a request in each mode of the CloudEvents HTTP protocol binding.

use std::fmt::Write;

use evhost_sdk::{cloudevents, Batch, Event};

/// What to POST: headers (the `Content-Type` among them, when there is one) and the body.
pub struct Outgoing {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Binary mode: attributes as `ce-*` headers, the data bytes as the body.
pub fn binary(event: &Event) -> Outgoing {
    let mut headers = vec![
        ("ce-specversion".to_owned(), encode(event.specversion())),
        ("ce-id".to_owned(), encode(event.id())),
        ("ce-source".to_owned(), encode(event.source())),
        ("ce-type".to_owned(), encode(event.ty())),
    ];
    let optional = [("ce-subject", event.subject()), ("ce-time", event.time()), ("ce-dataschema", event.dataschema())];
    headers.extend(optional.into_iter().filter_map(|(name, value)| Some((name.to_owned(), encode(value?)))));
    headers.extend(event.extensions().map(|(key, value)| (format!("ce-{key}"), encode(value))));
    if let Some(content_type) = event.datacontenttype() {
        headers.push(("content-type".to_owned(), content_type.to_owned()));
    }
    Outgoing { headers, body: event.data().to_vec() }
}

/// Structured mode: the event in the CloudEvents JSON format.
pub fn structured(event: &Event) -> Outgoing {
    let body = serde_json::to_vec(&cloudevents::to_json(event)).expect("a JSON map serializes");
    Outgoing {
        headers: vec![("content-type".to_owned(), "application/cloudevents+json; charset=utf-8".to_owned())],
        body,
    }
}

/// Batched mode: the whole batch as one JSON array of events.
pub fn batched(batch: &Batch<'_>) -> Outgoing {
    let events: Vec<_> = batch.iter().map(|event| serde_json::Value::Object(cloudevents::to_json(event))).collect();
    let body = serde_json::to_vec(&events).expect("JSON values serialize");
    Outgoing {
        headers: vec![("content-type".to_owned(), "application/cloudevents-batch+json; charset=utf-8".to_owned())],
        body,
    }
}

/// Percent-encodes a header value as the binding asks: space, `"`, `%`, and everything
/// outside printable ASCII, as UTF-8 bytes.
fn encode(value: &str) -> String {
    let plain = |b: u8| b.is_ascii_graphic() && b != b'"' && b != b'%';
    if value.bytes().all(plain) {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 8);
    for b in value.bytes() {
        if plain(b) {
            out.push(b as char);
        } else {
            write!(out, "%{b:02X}").expect("writing to a String");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn header_values_are_percent_encoded() {
        assert_eq!(encode("/evhost/x"), "/evhost/x");
        assert_eq!(encode("a b\"%€"), "a%20b%22%25%E2%82%AC");
    }
}
