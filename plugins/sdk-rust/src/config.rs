//! A plugin's config, read with serde, and its mistakes in the host's words. The host words
//! its own config errors one way (`unknown key `x`; did you mean `y`?`, `` `count` = "ten"
//! is a string; write an integer from 0 up, e.g. count = 1 ``) and points its caret at the
//! value when a config accessor of its API found the mistake. So when serde refuses a
//! config, the SDK finds the key path at fault and asks the host's accessor for that key
//! (`config_keys` for an unknown key, the accessor of the type serde expected for a wrong
//! value): the host then records the message and the key itself. When the accessor sees
//! nothing wrong (serde's rule is stricter, e.g. an enum's variants) or the host predates
//! the accessors, the SDK's own message, worded the same way, is used instead.

use std::ffi::{c_char, CString};

use evhost_abi::{evh_create_args, evh_host_api, evh_str, EVH_CONFIG_REQUIRED, EVH_ERR_CONFIG};
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

use crate::Error;

/// What serde found wrong, and where.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Issue {
    /// `key` (a full path) is not a field of the table at `table`.
    Unknown { table: String, key: String, accepted: Vec<String> },
    /// The value at `key` is of the wrong type: serde expected `expected`.
    Wrong { key: String, expected: Expected },
}

/// The kinds of value a host accessor can read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Expected {
    String,
    Int,
    Uint,
    Float,
    Bool,
    Duration,
    Size,
    Array,
    Table,
}

/// Parses `json` into `T`; a mistake comes back as a config error in the host's wording,
/// carrying the [`Issue`] for the host's accessor.
pub(crate) fn parse<T: DeserializeOwned>(json: &str) -> Result<T, Error> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    let mut deserializer = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = path_text(err.path());
        let inner = err.into_inner();
        // The position is in JSON the host made from its TOML, useless to the user.
        let text = inner.to_string();
        let text = text.strip_suffix(&format!(" at line {} column {}", inner.line(), inner.column())).unwrap_or(&text);
        if inner.is_syntax() || inner.is_eof() {
            return Error::config(format!("the config is not JSON: {text}"));
        }
        let (message, mut issue) = word(path.as_deref(), text);
        if let Some(Issue::Unknown { table, key, accepted }) = &mut issue {
            // The host is told the table's other keys too: what serde accepts beyond its
            // list (aliases) must not be the key the host blames.
            let leaf = key.rsplit('.').next().unwrap_or(key);
            let others = table_keys(json, table).into_iter().filter(|k| k != leaf && !accepted.contains(k));
            accepted.extend(others.collect::<Vec<_>>());
        }
        let error = Error::config(message);
        match issue {
            Some(issue) => error.with_issue(issue),
            None => error,
        }
    })
}

/// The keys of the table at `path` (`tls`, `jobs[1]`) in `json`; none when it is not one.
fn table_keys(json: &str, path: &str) -> Vec<String> {
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(json) else { return Vec::new() };
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (name, indices) = segment.split_once('[').map_or((segment, ""), |(n, rest)| (n, rest));
        if !name.is_empty() {
            value = value.get(name).cloned().unwrap_or_default();
        }
        for index in indices.split('[').filter_map(|i| i.trim_end_matches(']').parse::<usize>().ok()) {
            value = value.get(index).cloned().unwrap_or_default();
        }
    }
    value.as_object().map_or_else(Vec::new, |table| table.keys().cloned().collect())
}

/// The path as the host's accessors write it (`jobs[2].every`); None when serde could not
/// tell a segment, and "" for the whole config.
fn path_text(path: &serde_path_to_error::Path) -> Option<String> {
    let mut text = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => text.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            Segment::Unknown => return None,
        }
    }
    Some(text)
}

/// The message in the host's wording for serde's `text` about `path`, and the issue the
/// host's accessor can report instead, with its caret.
fn word(path: Option<&str>, text: &str) -> (String, Option<Issue>) {
    let Some(path) = path else { return (text.to_string(), None) };
    let join = |table: &str, key: &str| if table.is_empty() { key.to_string() } else { format!("{table}.{key}") };
    if let Some(rest) = text.strip_prefix("unknown field `") {
        let (key, rest) = rest.split_once('`').unwrap_or((rest, ""));
        let accepted = quoted(rest);
        // Whether serde's path already ends at the unknown key depends on the format's
        // deserializer; the table is what is left without it.
        let table = path.strip_suffix(key).map_or(path, |t| t.trim_end_matches('.')).to_string();
        let full = join(&table, key);
        let message = match accepted.is_empty() {
            true => format!("unknown key `{full}`; remove it"),
            false => format!("unknown key `{full}`; remove it; the keys accepted here are {}", accepted.join(", ")),
        };
        return (message, Some(Issue::Unknown { table, key: full, accepted }));
    }
    if let Some(rest) = text.strip_prefix("missing field `") {
        let key = join(path, rest.split_once('`').map_or(rest, |(key, _)| key));
        return (format!("missing key `{key}`; add `{key} = ...` to the `config` table"), None);
    }
    let shown = if path.is_empty() { "the config".to_string() } else { format!("`{path}`") };
    if let Some(rest) = text.strip_prefix("unknown variant `") {
        let (value, rest) = rest.split_once('`').unwrap_or((rest, ""));
        let accepted = quoted(rest);
        let example = accepted.first().map_or(String::new(), |first| format!(", e.g. {path} = \"{first}\""));
        return (
            format!("{shown} = \"{value}\" is not one of {}; write one of them{example}", accepted.join(", ")),
            None,
        );
    }
    if let Some(rest) = text.strip_prefix("invalid type: ") {
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, "another type"));
        let message = format!("{shown} is {}; write {expected}", article(found));
        return (message, expected_kind(expected).map(|expected| Issue::Wrong { key: path.to_string(), expected }));
    }
    if let Some(rest) = text.strip_prefix("invalid value: ") {
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, "another value"));
        return (format!("{shown} = {} is out of range; write {expected}", value_of(found)), None);
    }
    (format!("{shown}: {text}"), None)
}

/// The names in backquotes in serde's "expected one of `a`, `b`".
fn quoted(text: &str) -> Vec<String> {
    text.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// "string \"ten\"" → "a string (\"ten\")"; serde's "map" → "a table".
fn article(found: &str) -> String {
    match found.split_once(' ') {
        Some((kind, value)) => format!("{} ({value})", kind_name(kind)),
        None => kind_name(found),
    }
}

fn kind_name(kind: &str) -> String {
    match kind {
        "map" => "a table".into(),
        "sequence" => "an array".into(),
        "integer" => "an integer".into(),
        "floating" => "a float".into(),
        "boolean" => "a boolean".into(),
        "string" => "a string".into(),
        "null" => "null".into(),
        other => format!("a {other}"),
    }
}

/// "integer `300`" → "300".
fn value_of(found: &str) -> String {
    found.split('`').nth(1).unwrap_or(found).to_string()
}

/// Which accessor reads what serde expected; None for what no accessor reads.
fn expected_kind(expected: &str) -> Option<Expected> {
    Some(match expected {
        "a string" | "a borrowed string" | "a character" | "string" => Expected::String,
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => Expected::Uint,
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => Expected::Int,
        "f32" | "f64" => Expected::Float,
        "a boolean" => Expected::Bool,
        e if e.starts_with("a duration") => Expected::Duration,
        e if e.starts_with("a size") => Expected::Size,
        e if e.starts_with("a sequence") || e.starts_with("a tuple") || e.starts_with("an array") => Expected::Array,
        e if e.starts_with("struct ") || e.starts_with("a map") => Expected::Table,
        _ => return None,
    })
}

/// Asks the host's accessor about `issue`, so that the host words the mistake and points
/// its caret at the key. True when the host recorded it (the accessor answered
/// EVH_ERR_CONFIG); false when the SDK's own message is to be used.
///
/// # Safety
/// `args` is the `evh_create_args` the host passed to the running `on_create`, whose `api`
/// is at least ABI 1.0-sized and says its own size.
pub(crate) unsafe fn report(args: &evh_create_args, issue: &Issue) -> bool {
    // SAFETY: the caller's promise; the accessors are read only when the table covers them.
    let api = unsafe { &*args.api };
    if (api.struct_size as usize) < std::mem::offset_of!(evh_host_api, config_keys) + size_of::<usize>() {
        return false;
    }
    let Some(status) = (match issue {
        Issue::Unknown { table, accepted, .. } => {
            let Ok(table) = CString::new(table.as_str()) else { return false };
            let Ok(keys) = accepted.iter().map(|k| CString::new(k.as_str())).collect::<Result<Vec<_>, _>>() else {
                return false;
            };
            let pointers: Vec<*const c_char> = keys.iter().map(|k| k.as_ptr()).collect();
            // SAFETY: the ABI's accessor contract: the args of this on_create, a
            // NUL-terminated path and `len` NUL-terminated keys, all valid for the call.
            api.config_keys.map(|f| unsafe { f(args, table.as_ptr(), pointers.as_ptr(), pointers.len()) })
        }
        Issue::Wrong { key, expected } => {
            let Ok(path) = CString::new(key.as_str()) else { return false };
            // SAFETY: as above, with an out-parameter of the accessor's type, written only
            // on success and dropped unread.
            unsafe { read_as(api, args, path.as_ptr(), *expected) }
        }
    }) else {
        return false;
    };
    status == EVH_ERR_CONFIG
}

/// Calls the accessor for `expected` on `path`, as required.
///
/// # Safety
/// As for [`report`]; `path` is NUL-terminated.
unsafe fn read_as(api: &evh_host_api, args: &evh_create_args, path: *const c_char, expected: Expected) -> Option<i32> {
    let (mut text, mut int, mut uint, mut float, mut flag, mut len) = (evh_str::EMPTY, 0i64, 0u64, 0f64, false, 0usize);
    let required = EVH_CONFIG_REQUIRED;
    // SAFETY: the caller's promise; each out-parameter is a local of the accessor's type.
    unsafe {
        match expected {
            Expected::String => api.config_string.map(|f| f(args, path, required, &mut text)),
            Expected::Int => api.config_int.map(|f| f(args, path, required, &mut int)),
            Expected::Uint => api.config_uint.map(|f| f(args, path, required, &mut uint)),
            Expected::Float => api.config_float.map(|f| f(args, path, required, &mut float)),
            Expected::Bool => api.config_bool.map(|f| f(args, path, required, &mut flag)),
            Expected::Duration => api.config_duration_us.map(|f| f(args, path, required, &mut uint)),
            Expected::Size => api.config_size.map(|f| f(args, path, required, &mut uint)),
            Expected::Array => api.config_len.map(|f| f(args, path, required, &mut len)),
            // A table is checked by asking for its keys: any value that is not one is refused.
            Expected::Table => api.config_keys.map(|f| f(args, path, std::ptr::null(), 0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Config {
        count: u64,
        #[serde(default)]
        tls: Option<Tls>,
        #[serde(default)]
        jobs: Vec<Job>,
        #[serde(default)]
        mode: Option<Mode>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Tls {
        ca_file: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Job {
        every: crate::units::Duration,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        Binary,
        Structured,
    }

    fn mistake(json: &str) -> (String, Option<Issue>) {
        let err = parse::<Config>(json).expect_err("a mistake");
        (err.message().to_string(), err.issue().cloned())
    }

    #[test]
    fn mistakes_are_worded_as_the_host_words_them_with_the_key_for_its_accessor() {
        let (message, issue) = mistake(r#"{"count": 1, "cuont": 2}"#);
        assert_eq!(message, "unknown key `cuont`; remove it; the keys accepted here are count, tls, jobs, mode");
        assert!(matches!(issue, Some(Issue::Unknown { table, key, .. }) if table.is_empty() && key == "cuont"));

        let (message, issue) = mistake(r#"{"count": 1, "tls": {"ca_fle": "x"}}"#);
        assert_eq!(message, "unknown key `tls.ca_fle`; remove it; the keys accepted here are ca_file");
        assert!(matches!(issue, Some(Issue::Unknown { table, .. }) if table == "tls"));

        let (message, issue) = mistake(r#"{"count": "ten"}"#);
        assert_eq!(message, "`count` is a string (\"ten\"); write u64");
        assert_eq!(issue, Some(Issue::Wrong { key: "count".into(), expected: Expected::Uint }));

        let (_, issue) = mistake(r#"{"count": 1, "jobs": [{"every": "1s"}, {"every": true}]}"#);
        assert_eq!(issue, Some(Issue::Wrong { key: "jobs[1].every".into(), expected: Expected::Duration }));

        let (message, issue) = mistake(r#"{"tls": {"ca_file": "x"}}"#);
        assert_eq!(message, "missing key `count`; add `count = ...` to the `config` table");
        assert_eq!(issue, None);

        let (message, _) = mistake(r#"{"count": 1, "mode": "binry"}"#);
        assert_eq!(
            message,
            "`mode` = \"binry\" is not one of binary, structured; write one of them, e.g. mode = \"binary\""
        );

        let (message, _) = mistake(r#"{"count": -1}"#);
        assert_eq!(message, "`count` = -1 is out of range; write u64");
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Aliased {
        #[serde(alias = "n")]
        count: u64,
    }

    #[test]
    fn aliases_are_among_the_keys_the_host_is_told() {
        let err = parse::<Aliased>(r#"{"n": 1, "cuont": 2}"#).expect_err("a mistake");
        assert_eq!(err.message(), "unknown key `cuont`; remove it; the keys accepted here are count, n");
        let Some(Issue::Unknown { accepted, .. }) = err.issue() else { panic!("an unknown key") };
        assert_eq!(accepted, &["count", "n"]);
    }
}
