//! A plugin's `config` table, parsed once per `on_create`, read by key path: what the config
//! accessors of the host API (`evh_host_api.config_*`, in loader/config_api.rs) answer, so
//! that a C plugin needs no JSON parser. Durations and sizes follow the host's own grammar
//! (evhost-cloudevents' `units`); mistakes are worded as the host words its own (`wording`).
//!
//! A path is keys joined by `.` and array indexes in brackets: `count`, `tls.ca_file`,
//! `jobs[2].every`; a key with `.`, `[`, `]` or `"` in it is quoted: `"a.b".c`. The empty
//! path is the whole table.

use std::time::Duration;

use evhost_cloudevents::units;
use serde::Deserialize;
use serde_json::Value;

use super::wording::{self, one_line};

/// Why a lookup failed, and whose mistake it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// The user's: a required key is absent, or a value has the wrong type or range. `key`
    /// is the path of the value at fault, for the host to point at in the config file.
    #[error("{message}")]
    Config { key: String, message: String },
    /// The plugin's: a path that does not parse.
    #[error("{0}")]
    Path(String),
}

impl LookupError {
    pub(crate) fn config(key: &str, message: String) -> LookupError {
        LookupError::Config { key: key.to_string(), message }
    }
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// The parsed config of one instance.
#[derive(Debug)]
pub struct PluginConfig {
    root: Value,
}

impl PluginConfig {
    /// Parses the JSON text the plugin receives (`config_json`).
    pub fn parse(json: &str) -> Result<PluginConfig, serde_json::Error> {
        Ok(PluginConfig { root: serde_json::from_str(json)? })
    }

    /// A string; the slice borrows this config.
    pub fn string(&self, path: &str, required: bool) -> Result<Option<&str>, LookupError> {
        self.typed(path, required, "\"text\"", |value, wrong| value.as_str().ok_or_else(|| wrong("write a string")))
    }

    /// A signed 64-bit integer.
    pub fn int(&self, path: &str, required: bool) -> Result<Option<i64>, LookupError> {
        self.typed(path, required, "1", |value, wrong| match value {
            Value::Number(n) if n.is_i64() => Ok(n.as_i64().expect("checked")),
            Value::Number(n) if n.is_u64() => {
                Err(wrong("is too large; write an integer from -9223372036854775808 to 9223372036854775807"))
            }
            _ => Err(wrong("write an integer")),
        })
    }

    /// An unsigned 64-bit integer.
    pub fn uint(&self, path: &str, required: bool) -> Result<Option<u64>, LookupError> {
        self.typed(path, required, "1", |value, wrong| match value {
            Value::Number(n) if n.is_u64() => Ok(n.as_u64().expect("checked")),
            Value::Number(n) if n.is_i64() => Err(wrong("is negative; write an integer from 0 up")),
            _ => Err(wrong("write an integer from 0 up")),
        })
    }

    /// A float; an integer is one too.
    pub fn float(&self, path: &str, required: bool) -> Result<Option<f64>, LookupError> {
        self.typed(path, required, "0.5", |value, wrong| value.as_f64().ok_or_else(|| wrong("write a number")))
    }

    /// `true` or `false`.
    pub fn bool(&self, path: &str, required: bool) -> Result<Option<bool>, LookupError> {
        self.typed(path, required, "true", |value, wrong| value.as_bool().ok_or_else(|| wrong("write true or false")))
    }

    /// A duration in the host's grammar (`"500ms"`, `"1h30m"`).
    pub fn duration(&self, path: &str, required: bool) -> Result<Option<Duration>, LookupError> {
        self.typed(path, required, "\"30s\"", |value, wrong| {
            let written = units::Duration::deserialize(value).map_err(|_| wrong("write a duration"))?;
            written.get().map_err(|e| LookupError::config(path, e.for_key(path)))
        })
    }

    /// A size in bytes in the host's grammar (`4096`, `"64MiB"`).
    pub fn size(&self, path: &str, required: bool) -> Result<Option<u64>, LookupError> {
        self.typed(path, required, "\"1MiB\"", |value, wrong| {
            let written = units::Size::deserialize(value).map_err(|_| wrong("write a size"))?;
            written.bytes().map_err(|e| LookupError::config(path, e.for_key(path)))
        })
    }

    /// The number of elements of an array.
    pub fn len(&self, path: &str, required: bool) -> Result<Option<usize>, LookupError> {
        self.typed(path, required, "[]", |value, wrong| {
            value.as_array().map(Vec::len).ok_or_else(|| wrong("write an array"))
        })
    }

    /// Refuses a key of the table at `path` that is not among `accepted`; an absent table
    /// passes.
    pub fn check_keys(&self, path: &str, accepted: &[&str]) -> Result<(), LookupError> {
        let Some(value) = find(&self.root, &parse_path(path)?, path)? else { return Ok(()) };
        let Some(table) = value.as_object() else {
            return Err(LookupError::config(
                path,
                one_line(wording::wrong_value(
                    path,
                    echo(value).as_deref(),
                    &format!("is {}", kind(value)),
                    &format!("write a table, e.g. {} = {{}}", path),
                )),
            ));
        };
        match table.keys().find(|key| !accepted.contains(&key.as_str())) {
            None => Ok(()),
            Some(key) => {
                let full = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                Err(LookupError::config(&full, one_line(wording::unknown_key(&full, accepted))))
            }
        }
    }

    /// Finds `path` and reads it with `read`, which gets the value and a maker of the
    /// wrong-type message (given the fix, or a problem starting with "is"). `example` is
    /// a TOML value of the right type, for the messages' examples.
    fn typed<'a, T>(
        &'a self,
        path: &str,
        required: bool,
        example: &str,
        read: impl FnOnce(&'a Value, &dyn Fn(&str) -> LookupError) -> Result<T, LookupError>,
    ) -> Result<Option<T>, LookupError> {
        let steps = parse_path(path)?;
        if steps.is_empty() {
            return Err(LookupError::Path("config path `` is empty; name a key, e.g. \"count\"".into()));
        }
        let leaf = match steps.last() {
            Some(Step::Key(key)) => format!("{} = {example}", quote(key)),
            _ => format!("{path} = {example}"),
        };
        match find(&self.root, &steps, path)? {
            Some(value) => {
                let wrong = |fix: &str| {
                    let (problem, fix) = match fix.strip_prefix("is ") {
                        Some(rest) => rest
                            .split_once("; ")
                            .map_or((fix.to_string(), String::new()), |(p, f)| (format!("is {p}"), f.to_string())),
                        None => (format!("is {}", kind(value)), fix.to_string()),
                    };
                    let fix = format!("{fix}, e.g. {leaf}");
                    LookupError::config(
                        path,
                        one_line(wording::wrong_value(path, echo(value).as_deref(), &problem, &fix)),
                    )
                };
                read(value, &wrong).map(Some)
            }
            None if required => {
                Err(LookupError::config(path, one_line(wording::missing_key(path, &leaf, "the `config` table"))))
            }
            None => Ok(None),
        }
    }
}

/// The value at `steps`, None when absent (a missing key or an index past the end), or an
/// error when the way there crosses a value that is not a table or an array.
fn find<'a>(root: &'a Value, steps: &[Step], path: &str) -> Result<Option<&'a Value>, LookupError> {
    let mut value = root;
    let mut walked = String::new();
    for step in steps {
        let next = match (step, value) {
            (Step::Key(key), Value::Object(table)) => table.get(key),
            (Step::Index(i), Value::Array(items)) => items.get(*i),
            (Step::Key(key), _) => {
                return Err(not_a_container(&walked, value, &format!("a table with `{key}` in it"), path))
            }
            (Step::Index(_), _) => return Err(not_a_container(&walked, value, "an array", path)),
        };
        let Some(next) = next else { return Ok(None) };
        match step {
            Step::Key(key) if walked.is_empty() => walked.push_str(&quote(key)),
            Step::Key(key) => walked = format!("{walked}.{}", quote(key)),
            Step::Index(i) => walked = format!("{walked}[{i}]"),
        }
        value = next;
    }
    Ok(Some(value))
}

fn not_a_container(walked: &str, value: &Value, want: &str, path: &str) -> LookupError {
    let (problem, fix) = (format!("is {}", kind(value)), format!("write {want}, for `{path}`"));
    LookupError::config(walked, one_line(wording::wrong_value(walked, echo(value).as_deref(), &problem, &fix)))
}

/// What kind of TOML value this is, with its article.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a float",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a table",
    }
}

/// The value as written, for a message: short scalars only.
fn echo(value: &Value) -> Option<String> {
    const LONGEST: usize = 60;
    match value {
        Value::Array(_) | Value::Object(_) => None,
        scalar => Some(scalar.to_string()).filter(|text| text.len() <= LONGEST),
    }
}

/// A key as a path writes it: quoted when it holds a character that separates steps.
fn quote(key: &str) -> String {
    if key.is_empty() || key.contains(['.', '[', ']', '"']) {
        format!("\"{key}\"")
    } else {
        key.to_string()
    }
}

/// Splits a path into keys and indexes, or says what is wrong with it.
pub(crate) fn parse_path(path: &str) -> Result<Vec<Step>, LookupError> {
    let bad = |why: &str| {
        LookupError::Path(format!(
            "config path `{path}` {why}; write keys joined by `.` and array indexes in brackets, e.g. \"jobs[2].every\""
        ))
    };
    let mut steps = Vec::new();
    let mut rest = path;
    let mut expect_key = true;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let (digits, after) = after.split_once(']').ok_or_else(|| bad("has a `[` without its `]`"))?;
            let index =
                digits.parse().map_err(|_| bad(&format!("has the index `[{digits}]`, which is not a whole number")))?;
            steps.push(Step::Index(index));
            rest = after;
            expect_key = false;
            continue;
        }
        if !expect_key {
            rest = rest.strip_prefix('.').ok_or_else(|| bad("needs a `.` between a `]` and the next key"))?;
        }
        if let Some(after) = rest.strip_prefix('"') {
            let (key, after) = after.split_once('"').ok_or_else(|| bad("has a `\"` without its closing `\"`"))?;
            steps.push(Step::Key(key.to_string()));
            rest = after;
        } else {
            let end = rest.find(['.', '[', ']', '"']).unwrap_or(rest.len());
            if end == 0 {
                return Err(bad("has an empty key"));
            }
            steps.push(Step::Key(rest[..end].to_string()));
            rest = &rest[end..];
        }
        expect_key = false;
        if rest.starts_with(']') || rest.starts_with('"') {
            return Err(bad(&format!("has a stray `{}`", &rest[..1])));
        }
        if let Some(after) = rest.strip_prefix('.') {
            if after.is_empty() || after.starts_with(['.', '[']) {
                return Err(bad("has an empty key"));
            }
            rest = after;
            expect_key = true;
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests;
