//! The CloudEvents 1.0 attributes, and the checks of their values that every reader of
//! events makes alike: the host when a producer emits, the HTTP binding when a client sends.
//!
//! The checks are plain functions over bytes or text, inlined into the caller: the host's
//! ingest runs them on its hot path, and its messages (which name the event and field) stay
//! with each caller.

/// The one `specversion` this crate reads and writes.
pub const SPECVERSION: &str = "1.0";

/// The context attributes CloudEvents 1.0 defines; every other attribute is an extension.
pub const CONTEXT_ATTRIBUTES: [&str; 8] =
    ["specversion", "id", "source", "type", "subject", "datacontenttype", "dataschema", "time"];

/// True when `name` is one of [`CONTEXT_ATTRIBUTES`].
pub fn is_context_attribute(name: &str) -> bool {
    CONTEXT_ATTRIBUTES.contains(&name)
}

/// True when `name` may name an extension attribute: not empty, only `a-z` and `0-9`.
#[inline]
pub fn is_extension_name(name: impl AsRef<[u8]>) -> bool {
    let name = name.as_ref();
    !name.is_empty() && name.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// True when `time` is an RFC 3339 date-time, as CloudEvents requires of `time`, in the
/// form consumers' parsers read (Go's `time.RFC3339Nano`, for one): `2026-11-27T21:17:42Z`,
/// with optional fractions of a second and a `+hh:mm` offset. Stricter than chrono alone,
/// which also takes a space or a lowercase `t` for the `T`, a lowercase `z`, a Unicode minus
/// sign in the offset and a leap second.
#[inline]
pub fn is_rfc3339(time: impl AsRef<[u8]>) -> bool {
    let time = time.as_ref();
    time.is_ascii()
        && time.get(10) == Some(&b'T')
        && !time.contains(&b'z')
        && std::str::from_utf8(time)
            .ok()
            .and_then(|time| chrono::DateTime::parse_from_rfc3339(time).ok())
            .is_some_and(|time| time.timestamp_subsec_nanos() < 1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc_3339_as_parsers_read_it() {
        for good in ["2024-05-01T00:00:00Z", "2024-05-01T00:00:00.123456+02:00", "2026-11-27T22:17:42.5+01:00"] {
            assert!(is_rfc3339(good), "{good}");
            assert!(is_rfc3339(good.as_bytes()), "{good}");
        }
        let bad = [
            "yesterday",
            "2024-05-01",
            "2024-05-01 00:00:00Z",
            "2024-05-01t00:00:00Z",
            "2024-05-01T00:00:00z",
            "2024-02-30T00:00:00Z",
            "2024-05-01T00:00:00\u{2212}01:00",
            "2016-12-31T23:59:60Z",
            "",
        ];
        for bad in bad {
            assert!(!is_rfc3339(bad), "{bad}");
        }
        assert!(!is_rfc3339(b"2024-05-01T00:00:00\xffZ"));
    }

    #[test]
    fn extension_names_are_lowercase_letters_and_digits() {
        for good in ["traceparent", "a", "x1", "0"] {
            assert!(is_extension_name(good), "{good}");
        }
        for bad in ["", "Trace", "my_ext", "my-ext", "é", "a b"] {
            assert!(!is_extension_name(bad), "{bad}");
        }
    }

    #[test]
    fn context_attributes_are_not_extensions_by_name() {
        assert!(CONTEXT_ATTRIBUTES.iter().all(|name| is_context_attribute(name) && is_extension_name(name)));
        assert!(!is_context_attribute("data") && !is_context_attribute("traceparent"));
    }
}
