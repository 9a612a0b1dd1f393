//! The body and headers of a request in each mode of the CloudEvents HTTP protocol binding.

use evhost_sdk::{cloudevents, Batch, Event};

/// What to POST: headers (the `Content-Type` among them, when there is one) and the body.
pub struct Outgoing {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Binary mode: attributes as `ce-*` headers, the data bytes as the body.
pub fn binary(event: &Event) -> Outgoing {
    Outgoing { headers: cloudevents::binary::to_headers(event), body: event.data().to_vec() }
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
