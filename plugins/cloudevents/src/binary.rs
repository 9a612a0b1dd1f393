//! The CloudEvents HTTP protocol binding's binary mode, both ways: the attributes travel as
//! `ce-*` headers with percent-encoded values, `datacontenttype` as the `Content-Type` and
//! the data as the body. The `webhook` consumer sends it, the `http` producer receives it.

use std::borrow::Cow;
use std::fmt::Write;

use crate::attributes::{is_context_attribute, is_extension_name, SPECVERSION};
use crate::{CloudEvent, OutEvent};

/// What turns an attribute name into its header's name.
const PREFIX: &str = "ce-";

/// The headers of `event` in binary mode: its attributes as `ce-*` headers, then
/// `content-type` when it has a content type. The body is the event's data, as it is.
pub fn to_headers(event: &impl CloudEvent) -> Vec<(String, String)> {
    let required =
        [("specversion", event.specversion()), ("id", event.id()), ("source", event.source()), ("type", event.ty())];
    let optional = [("subject", event.subject()), ("time", event.time()), ("dataschema", event.dataschema())];
    let present = optional.into_iter().filter_map(|(name, value)| Some((name, value?)));
    let mut headers: Vec<_> = required
        .into_iter()
        .chain(present)
        .chain(event.extensions())
        .map(|(name, value)| (format!("{PREFIX}{name}"), encode(value)))
        .collect();
    if let Some(content_type) = event.datacontenttype() {
        headers.push(("content-type".to_owned(), content_type.to_owned()));
    }
    headers
}

/// The event of a binary-mode request. `headers` are the request's headers in the order
/// they came, names in lowercase (as HTTP libraries keep them), values as sent; the event
/// borrows `content_type` and `body`. The message says what is wrong, for the client.
///
/// An attribute given twice is refused (which value is meant cannot be known), and so are
/// `ce-datacontenttype` and `ce-data`, which binary mode carries elsewhere.
pub fn from_headers<'a>(
    headers: &[(&str, &[u8])],
    content_type: Option<&'a str>,
    body: &'a [u8],
) -> Result<OutEvent<'a>, String> {
    let attributes = || headers.iter().filter_map(|(name, value)| Some((name.strip_prefix(PREFIX)?, *value)));
    let attribute = |name: &str| -> Result<Option<String>, String> {
        match attributes().find(|(key, _)| *key == name) {
            None => Ok(None),
            Some((_, raw)) => {
                decode(raw).map(Some).ok_or_else(|| format!("the ce-{name} header is not UTF-8 after percent-decoding"))
            }
        }
    };
    let required = |name: &str| -> Result<String, String> {
        attribute(name)?
            .filter(|value| !value.is_empty())
            .ok_or_else(|| format!("invalid CloudEvent: the ce-{name} header is required and must not be empty"))
    };
    match attribute("specversion")?.as_deref() {
        Some(SPECVERSION) => {}
        other => {
            return Err(format!(
                "invalid CloudEvent: ce-specversion {:?} is not supported; use \"{SPECVERSION}\"",
                other.unwrap_or("")
            ))
        }
    }
    let mut event = OutEvent::new(required("id")?, required("source")?, required("type")?);
    event.subject = attribute("subject")?.map(Cow::Owned);
    event.time = attribute("time")?.map(Cow::Owned);
    event.dataschema = attribute("dataschema")?.map(Cow::Owned);
    event.datacontenttype = content_type.map(Cow::Borrowed);
    event.data = Cow::Borrowed(body);
    for (index, (key, _)) in attributes().enumerate() {
        if attributes().take(index).any(|(earlier, _)| earlier == key) {
            continue;
        }
        if attributes().skip(index + 1).any(|(later, _)| later == key) {
            return Err(format!(
                "invalid CloudEvent: the ce-{key} header is given more than once; send each attribute once"
            ));
        }
        if key == "datacontenttype" || key == "data" {
            return Err(format!(
                "invalid CloudEvent: in binary mode the {key} is the request's {}, not a ce-{key} header",
                if key == "data" { "body" } else { "Content-Type" }
            ));
        }
        if is_context_attribute(key) {
            continue;
        }
        if !is_extension_name(key) {
            return Err(format!("invalid CloudEvent: extension attribute name \"{key}\" (header ce-{key}) is invalid; use only a-z and 0-9"));
        }
        let value = attribute(key)?.unwrap_or_default();
        event.extensions.push((Cow::Owned(key.to_owned()), Cow::Owned(value)));
    }
    Ok(event)
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

/// Decodes `%XX` escapes, as the binding asks of header values; a `%` without two hex digits
/// stays as it is. `None` when the result is not UTF-8.
fn decode(raw: &[u8]) -> Option<String> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match (raw[i], raw.get(i + 1).copied().and_then(hex), raw.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(high), Some(low)) => {
                out.push(high << 4 | low);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(headers: &[(&str, &str)]) -> Result<OutEvent<'static>, String> {
        let headers: Vec<(&str, &[u8])> = headers.iter().map(|(name, value)| (*name, value.as_bytes())).collect();
        from_headers(&headers, None, b"")
    }

    const BASE: [(&str, &str); 4] = [("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "/s"), ("ce-type", "t")];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        BASE.iter().chain(extra).copied().collect()
    }

    #[test]
    fn an_event_comes_back_as_it_went() {
        let sent = OutEvent::new("42", "/orders", "com.example.created")
            .subject("café \"au\" lait 100%")
            .time("2024-05-01T00:00:00Z")
            .dataschema("/schema")
            .datacontenttype("text/plain")
            .data(&b"hello"[..])
            .extension("traceparent", "00-abc-01");
        let headers = to_headers(&sent);
        assert!(headers.contains(&("ce-subject".to_owned(), "caf%C3%A9%20%22au%22%20lait%20100%25".to_owned())));
        assert_eq!(headers.last(), Some(&("content-type".to_owned(), "text/plain".to_owned())));
        let pairs: Vec<(&str, &[u8])> = headers.iter().map(|(name, value)| (name.as_str(), value.as_bytes())).collect();
        let received = from_headers(&pairs, sent.datacontenttype.as_deref(), &sent.data).unwrap();
        assert_eq!(received, sent);
    }

    #[test]
    fn header_values_are_percent_encoded_and_decoded() {
        assert_eq!(encode("/evhost/x"), "/evhost/x");
        assert_eq!(encode("a b\"%€"), "a%20b%22%25%E2%82%AC");
        assert_eq!(decode(b"a%20b%zz%"), Some("a b%zz%".into()));
        assert_eq!(decode(b"%e2%82%ac"), Some("€".into()));
        assert_eq!(decode(b"%FF"), None);
    }

    #[test]
    fn bad_events_are_refused_with_the_reason() {
        let refused = |headers: &[(&str, &str)]| decoded(headers).unwrap_err();
        assert_eq!(refused(&BASE[1..]), "invalid CloudEvent: ce-specversion \"\" is not supported; use \"1.0\"");
        assert_eq!(
            refused(&[BASE[0], BASE[2], BASE[3]]),
            "invalid CloudEvent: the ce-id header is required and must not be empty"
        );
        assert_eq!(
            refused(&with(&[("ce-subject", "%FF")])),
            "the ce-subject header is not UTF-8 after percent-decoding"
        );
        assert_eq!(
            refused(&with(&[("ce-id", "2")])),
            "invalid CloudEvent: the ce-id header is given more than once; send each attribute once"
        );
        assert_eq!(
            refused(&with(&[("ce-data", "x")])),
            "invalid CloudEvent: in binary mode the data is the request's body, not a ce-data header"
        );
        assert!(refused(&with(&[("ce-datacontenttype", "x")])).contains("request's Content-Type"));
        assert_eq!(
            refused(&with(&[("ce-my_ext", "x")])),
            "invalid CloudEvent: extension attribute name \"my_ext\" (header ce-my_ext) is invalid; use only a-z and 0-9"
        );
    }

    #[test]
    fn other_headers_are_not_attributes() {
        let event = decoded(&with(&[("host", "x"), ("ce-n", "1"), ("x-ce-y", "2")])).unwrap();
        assert_eq!(event.extensions, vec![(Cow::from("n"), Cow::from("1"))]);
    }
}
