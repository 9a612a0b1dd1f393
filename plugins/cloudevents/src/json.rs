//! The CloudEvents JSON event format (structured mode): events to JSON objects and back.
//! The host's dead letters, the `file` and `webhook` consumers and the `http` producer all
//! write and read this one shape.
//!
//! The data rule, both ways: `data` holds the data inline as JSON when the content type is
//! JSON or absent and the bytes parse; `data_base64` holds any other data.

use std::borrow::Cow;

use base64::Engine;
use serde_json::{Map, Value};

use crate::attributes::{is_context_attribute, is_extension_name, SPECVERSION};
use crate::{CloudEvent, OutEvent};

/// The members of a JSON event that hold its data, beside the attributes.
const DATA_MEMBERS: [&str; 2] = ["data", "data_base64"];

/// True for JSON media types: `application/json`, `text/json` and `*/*+json`, with or
/// without parameters.
pub fn is_json_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
}

/// An event in the CloudEvents JSON format: `data` inline when the content type is JSON
/// and the bytes parse, `data_base64` otherwise.
pub fn to_json(event: &impl CloudEvent) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("specversion".into(), event.specversion().into());
    out.insert("id".into(), event.id().into());
    out.insert("source".into(), event.source().into());
    out.insert("type".into(), event.ty().into());
    let optional = [
        ("subject", event.subject()),
        ("datacontenttype", event.datacontenttype()),
        ("dataschema", event.dataschema()),
        ("time", event.time()),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            out.insert(key.into(), value.into());
        }
    }
    for (key, value) in event.extensions() {
        out.insert(key.into(), value.into());
    }
    let data = event.data();
    let inline =
        event.datacontenttype().is_none_or(is_json_type).then(|| serde_json::from_slice::<Value>(data).ok()).flatten();
    match inline {
        Some(value) => {
            out.insert("data".into(), value);
        }
        None if data.is_empty() => {}
        None => {
            out.insert("data_base64".into(), base64::engine::general_purpose::STANDARD.encode(data).into());
        }
    }
    out
}

/// Reads one event in the CloudEvents JSON format. The message says which attribute is
/// wrong, for an HTTP 400 or a log line.
pub fn from_json(value: &Value) -> Result<OutEvent<'static>, String> {
    let object = value.as_object().ok_or("a CloudEvent in JSON must be an object")?;
    let text = |key: &str| -> Result<Option<String>, String> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("`{key}` must be a string")),
        }
    };
    match text("specversion")?.as_deref() {
        Some(SPECVERSION) => {}
        Some(other) => return Err(format!("specversion \"{other}\" is not supported; use \"{SPECVERSION}\"")),
        None => return Err("`specversion` is required (\"1.0\")".into()),
    }
    let required = |key: &str| -> Result<String, String> {
        match text(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(format!("`{key}` is required and must be a non-empty string")),
        }
    };
    let mut event = OutEvent::new(required("id")?, required("source")?, required("type")?);
    event.subject = text("subject")?.map(Cow::Owned);
    event.datacontenttype = text("datacontenttype")?.map(Cow::Owned);
    event.dataschema = text("dataschema")?.map(Cow::Owned);
    event.time = text("time")?.map(Cow::Owned);
    match (object.get("data"), object.get("data_base64")) {
        (Some(_), Some(_)) => return Err("`data` and `data_base64` are mutually exclusive".into()),
        (Some(Value::String(s)), None) if !event.datacontenttype.as_deref().is_none_or(is_json_type) => {
            event.data = Cow::Owned(s.clone().into_bytes());
        }
        (Some(data), None) => {
            event.data = Cow::Owned(serde_json::to_vec(data).expect("a JSON value serializes"));
            if event.datacontenttype.is_none() {
                event.datacontenttype = Some(Cow::Borrowed("application/json"));
            }
        }
        (None, Some(Value::String(encoded))) => {
            event.data = Cow::Owned(
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .map_err(|e| format!("`data_base64` is not valid base64: {e}"))?,
            );
        }
        (None, Some(_)) => return Err("`data_base64` must be a string".into()),
        (None, None) => {}
    }
    let extensions =
        object.iter().filter(|(key, _)| !is_context_attribute(key) && !DATA_MEMBERS.contains(&key.as_str()));
    for (key, value) in extensions {
        if !is_extension_name(key) {
            return Err(format!("extension attribute name \"{key}\" is invalid; use only a-z and 0-9"));
        }
        let value = match value {
            Value::String(s) => s.clone(),
            Value::Bool(_) | Value::Number(_) => value.to_string(),
            _ => return Err(format!("extension attribute `{key}` must be a string, number or boolean")),
        };
        event.extensions.push((Cow::Owned(key.clone()), Cow::Owned(value)));
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_spec_example() {
        let event = from_json(&json!({
            "specversion": "1.0", "type": "com.github.pull_request.opened",
            "source": "https://github.com/cloudevents/spec/pull", "subject": "123",
            "id": "A234-1234-1234", "time": "2018-04-05T17:31:00Z", "comexampleextension1": "value",
            "datacontenttype": "application/json", "data": {"a": 1}
        }))
        .unwrap();
        assert_eq!(event.id, "A234-1234-1234");
        assert_eq!(event.subject.as_deref(), Some("123"));
        assert_eq!(&*event.data, br#"{"a":1}"#);
        assert_eq!(event.extensions, vec![(Cow::from("comexampleextension1"), Cow::from("value"))]);
    }

    #[test]
    fn decodes_base64_and_rejects_bad_input() {
        let event =
            from_json(&json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "data_base64": "AAEC"}))
                .unwrap();
        assert_eq!(&*event.data, &[0, 1, 2]);
        let error = |value| from_json(&value).unwrap_err();
        assert_eq!(
            error(json!({"specversion": "0.3", "id": "1", "source": "/s", "type": "t"})),
            "specversion \"0.3\" is not supported; use \"1.0\""
        );
        assert!(error(json!({"specversion": "1.0", "source": "/s", "type": "t"})).contains("`id`"));
        assert!(error(json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "Bad-Name": "x"}))
            .contains("Bad-Name"));
        assert!(error(
            json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "data": 1, "data_base64": ""})
        )
        .contains("mutually exclusive"));
        assert!(from_json(&json!([1])).is_err());
    }

    #[test]
    fn extension_values_may_be_numbers_or_booleans() {
        let event =
            from_json(&json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "t", "n": 1.5, "b": true}))
                .unwrap();
        assert_eq!(event.extensions, vec![(Cow::from("b"), Cow::from("true")), (Cow::from("n"), Cow::from("1.5"))]);
    }

    #[test]
    fn json_types() {
        assert!(is_json_type("application/json; charset=utf-8"));
        assert!(is_json_type("Text/JSON"));
        assert!(is_json_type("application/cloudevents+json"));
        assert!(!is_json_type("text/plain"));
    }

    fn event(content_type: Option<&'static str>, data: &'static [u8]) -> OutEvent<'static> {
        let mut event = OutEvent::new("id-7", "/s", "t").data(data);
        event.datacontenttype = content_type.map(Cow::Borrowed);
        event
    }

    #[test]
    fn json_data_is_inline_and_other_data_is_base64() {
        let inline = to_json(&event(Some("application/json"), br#"{"a":[1,2]}"#));
        assert_eq!(inline.get("data"), Some(&json!({"a": [1, 2]})));
        assert_eq!(inline.get("data_base64"), None);
        assert_eq!(inline.get("specversion"), Some(&json!("1.0")));
        assert_eq!(to_json(&event(None, b"[1]")).get("data"), Some(&json!([1])), "no content type means JSON");
        // Declared JSON that does not parse, and non-JSON types, travel as base64.
        for (content_type, data) in [("application/json", &b"{not json"[..]), ("text/plain", &b"{}"[..])] {
            let out = to_json(&event(Some(content_type), data));
            assert_eq!(out.get("data"), None, "{content_type}");
            assert_eq!(out.get("data_base64"), Some(&json!(base64::engine::general_purpose::STANDARD.encode(data))));
        }
        let empty = to_json(&event(Some("application/octet-stream"), b""));
        assert!(!empty.contains_key("data") && !empty.contains_key("data_base64"));
    }

    #[test]
    fn absent_and_empty_attributes_are_left_out() {
        let mut event = event(None, b"");
        event.subject = Some(Cow::Borrowed(""));
        event.time = Some(Cow::Borrowed("2024-05-01T00:00:00Z"));
        let out = to_json(&event.extension("traceparent", "00-1"));
        let mut keys: Vec<_> = out.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["id", "source", "specversion", "time", "traceparent", "type"]);
    }

    #[test]
    fn an_event_comes_back_as_it_went() {
        let text = event(Some("text/plain; charset=utf-8"), "café".as_bytes()).subject("s").extension("n", "1");
        let binary = event(Some("application/octet-stream"), &[0, 255]).dataschema("/schema");
        let json = event(Some("application/json"), br#"{"a":1}"#).time("2024-05-01T00:00:00Z");
        for sent in [text, binary, json] {
            assert_eq!(from_json(&Value::Object(to_json(&sent))).unwrap(), sent);
        }
    }
}
