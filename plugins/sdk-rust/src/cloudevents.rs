//! The CloudEvents formats, from the `evhost-cloudevents` crate, which the host and every
//! first-party plugin share: the JSON event format ([`to_json`], [`from_json`]), the HTTP
//! binding's binary mode ([`binary`]) and the attribute checks ([`attributes`]). They take
//! any [`CloudEvent`]: a delivered [`Event`], or an [`OutEvent`](crate::OutEvent).

pub use evhost_cloudevents::json::{from_json, is_json_type, to_json};
pub use evhost_cloudevents::{attributes, binary, CloudEvent};

use crate::Event;

/// A delivered event, read through its own accessors.
impl CloudEvent for Event {
    fn specversion(&self) -> &str {
        Event::specversion(self)
    }
    fn id(&self) -> &str {
        Event::id(self)
    }
    fn source(&self) -> &str {
        Event::source(self)
    }
    fn ty(&self) -> &str {
        Event::ty(self)
    }
    fn subject(&self) -> Option<&str> {
        Event::subject(self)
    }
    fn datacontenttype(&self) -> Option<&str> {
        Event::datacontenttype(self)
    }
    fn dataschema(&self) -> Option<&str> {
        Event::dataschema(self)
    }
    fn time(&self) -> Option<&str> {
        Event::time(self)
    }
    fn data(&self) -> &[u8] {
        Event::data(self)
    }
    fn extensions(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        Event::extensions(self)
    }
}

#[cfg(test)]
mod tests {
    use evhost_abi::{evh_attr, evh_bytes, evh_event, evh_str, struct_size};
    use serde_json::json;

    use super::*;

    #[test]
    fn a_delivered_event_is_written_as_it_reads() {
        let extensions = [evh_attr { key: evh_str::from_str("traceparent"), value: evh_str::from_str("00-1") }];
        let event = Event::from_abi(evh_event {
            struct_size: struct_size::<evh_event>(),
            reserved: 0,
            seq: 7,
            id: evh_str::from_str("id-7"),
            source: evh_str::from_str("/s"),
            specversion: evh_str::EMPTY,
            r#type: evh_str::from_str("t"),
            subject: evh_str::EMPTY,
            datacontenttype: evh_str::from_str("application/json"),
            dataschema: evh_str::EMPTY,
            time: evh_str::from_str("2024-05-01T00:00:00Z"),
            data: evh_bytes::from_slice(br#"{"a":[1,2]}"#),
            extensions: extensions.as_ptr(),
            extensions_len: extensions.len(),
        });
        let expected = json!({
            "specversion": "1.0", "id": "id-7", "source": "/s", "type": "t", "datacontenttype": "application/json",
            "time": "2024-05-01T00:00:00Z", "traceparent": "00-1", "data": {"a": [1, 2]}
        });
        assert_eq!(serde_json::Value::Object(to_json(&event)), expected);
        assert_eq!(from_json(&expected).unwrap(), event.to_owned_event());
    }
}
