//! Durations and sizes in config, one grammar for the host and every plugin.
//!
//! A duration is one or more whole numbers, each with a unit: `"500us"`, `"250ms"`, `"30s"`,
//! `"2m"`, `"1h30m"`, `"2d"` (spaces between a number and its unit are allowed). A size is a
//! whole number of bytes, alone or with a unit: `4096`, `"4096"`, `"64MiB"`, `"512 KiB"`,
//! `"1GB"` (`KiB`/`MiB`/`GiB` are powers of 1024, `KB`/`kB`/`MB`/`GB` powers of 1000).
//!
//! [`parse_duration`] and [`parse_size`] read text. The serde types [`Duration`] and [`Size`]
//! accept any number or string in a config and keep it as written; reading it later lets the
//! check name the key in its message ([`UnitError::for_key`]), which serde's errors cannot.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

const DURATION_HINT: &str = r#"write a whole number and a unit (us, ms, s, m, h, d), e.g. "500ms", "30s" or "1h30m""#;
const SIZE_HINT: &str =
    r#"write a whole number of bytes, or one with a unit (B, KiB, MiB, GiB), e.g. 1048576 or "1MiB""#;
/// Names the binary units only: they are what a buffer or a file is usually measured in.
const SIZE_UNITS: &str = r#"use B, KiB, MiB or GiB, e.g. "1MiB""#;

/// A value that is not a duration or a size, with what was written and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitError {
    /// As the user wrote it: quoted for a string, bare for a number.
    written: String,
    reason: String,
}

impl UnitError {
    /// The message for a config key, e.g. `` `timeout` = "soon" is not a duration; write … ``.
    pub fn for_key(&self, key: &str) -> String {
        format!("`{key}` = {self}")
    }
}

impl fmt::Display for UnitError {
    /// What was written and why it is refused, e.g. `"5 minutes" has the unknown unit "minutes"; write …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.written, self.reason)
    }
}

impl std::error::Error for UnitError {}

/// Parses a duration: `"500us"`, `"250ms"`, `"30s"`, `"2m"`, `"1h30m"`, `"2d"`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, UnitError> {
    let error = |reason: String| Written::Text(text.to_owned()).error(reason);
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(error(format!("is empty; {DURATION_HINT}")));
    }
    let mut total = std::time::Duration::ZERO;
    while !rest.is_empty() {
        let (number, after) = leading_number(rest).map_err(|missing| {
            error(match missing {
                NoNumber::Missing => format!("is not a duration; {DURATION_HINT}"),
                NoNumber::TooLarge => "is too long".into(),
            })
        })?;
        let unit_end = after.find(|c: char| c.is_ascii_digit()).unwrap_or(after.len());
        let unit = after[..unit_end].trim();
        rest = &after[unit_end..];
        let seconds = |factor: u64| number.checked_mul(factor).map(std::time::Duration::from_secs);
        let term = match unit {
            "us" => Some(std::time::Duration::from_micros(number)),
            "ms" => Some(std::time::Duration::from_millis(number)),
            "s" => seconds(1),
            "m" => seconds(60),
            "h" => seconds(3600),
            "d" => seconds(86_400),
            "" => return Err(error(format!("has no unit; {DURATION_HINT}"))),
            _ if unit.starts_with(['.', ',']) => return Err(error(format!("is not a whole number; {DURATION_HINT}"))),
            _ => return Err(error(format!("has the unknown unit \"{unit}\"; {DURATION_HINT}"))),
        };
        total = term.and_then(|term| total.checked_add(term)).ok_or_else(|| error("is too long".into()))?;
    }
    Ok(total)
}

/// Parses a size in bytes: `"4096"`, `"512KiB"`, `"64 MiB"`, `"1GiB"`, `"1MB"`.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let error = |reason: String| Written::Text(text.to_owned()).error(reason);
    let (number, unit) = leading_number(text.trim()).map_err(|missing| {
        error(match missing {
            NoNumber::Missing => format!("is not a size; {SIZE_HINT}"),
            NoNumber::TooLarge => "is too large".into(),
        })
    })?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        unit if unit.starts_with(['.', ',']) => return Err(error(format!("is not a whole number; {SIZE_HINT}"))),
        _ => return Err(error(format!("has no known unit; {SIZE_UNITS}"))),
    };
    number.checked_mul(factor).ok_or_else(|| error("is too large".into()))
}

/// Why a text does not begin with a whole number: none there, or one past `u64`.
enum NoNumber {
    Missing,
    TooLarge,
}

/// The whole number `text` begins with, and the text after it.
fn leading_number(text: &str) -> Result<(u64, &str), NoNumber> {
    let end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    if end == 0 {
        return Err(NoNumber::Missing);
    }
    // Only digits are left, so the parse fails by overflow alone.
    let number = text[..end].parse().map_err(|_| NoNumber::TooLarge)?;
    Ok((number, &text[end..]))
}

/// A duration as a config value: a string such as `"30s"`. Any number or string is taken
/// as written; [`Duration::get`] reads it, so the caller's message can name the key.
#[derive(Clone, Debug, PartialEq)]
pub struct Duration(Written);

impl Duration {
    /// The duration, or why what was written is not one (a bare number has no unit).
    pub fn get(&self) -> Result<std::time::Duration, UnitError> {
        match &self.0 {
            Written::Text(text) => parse_duration(text),
            Written::Whole(_) => Err(self.0.error(format!("has no unit; {DURATION_HINT}"))),
            Written::Negative(_) | Written::Float(_) => {
                Err(self.0.error(format!("is not a duration; {DURATION_HINT}")))
            }
        }
    }
}

impl fmt::Display for Duration {
    /// As written: `"30s"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A size as a config value: a whole number of bytes (`1048576`) or a string (`"1MiB"`).
/// Any number or string is taken as written; [`Size::bytes`] reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Size(Written);

impl Size {
    /// The number of bytes, or why what was written is not one.
    pub fn bytes(&self) -> Result<u64, UnitError> {
        /// 2^64, the first float too large for a `u64`.
        const TOO_LARGE: f64 = 18_446_744_073_709_551_616.0;
        match self.0 {
            Written::Text(ref text) => parse_size(text),
            Written::Whole(n) => Ok(n),
            Written::Negative(_) => Err(self.0.error(format!("is negative; {SIZE_HINT}"))),
            Written::Float(n) if n < 0.0 => Err(self.0.error(format!("is negative; {SIZE_HINT}"))),
            // A float is a size when whole: JSON and TOML read `1e6` as one.
            Written::Float(n) if n.fract() != 0.0 => Err(self.0.error(format!("is not a whole number; {SIZE_HINT}"))),
            Written::Float(n) if n >= TOO_LARGE => Err(self.0.error("is too large".into())),
            Written::Float(n) => Ok(n as u64),
        }
    }
}

impl fmt::Display for Size {
    /// As written: `"1MiB"` or `1048576`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A config value as the user wrote it, before it is read as a duration or a size.
#[derive(Clone, Debug, PartialEq)]
enum Written {
    Text(String),
    Whole(u64),
    Negative(i64),
    Float(f64),
}

impl Written {
    fn error(&self, reason: String) -> UnitError {
        UnitError { written: self.to_string(), reason }
    }
}

impl fmt::Display for Written {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Written::Text(text) => write!(f, "\"{text}\""),
            Written::Whole(n) => write!(f, "{n}"),
            Written::Negative(n) => write!(f, "{n}"),
            Written::Float(n) => write!(f, "{n}"),
        }
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let expecting = r#"a duration: a whole number and a unit, e.g. "500ms", "30s" or "1h30m""#;
        deserializer.deserialize_any(WrittenVisitor { expecting }).map(Duration)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let expecting = r#"a size: a whole number of bytes, or a string such as "1MiB""#;
        deserializer.deserialize_any(WrittenVisitor { expecting }).map(Size)
    }
}

/// Takes any number or string; other types are refused with what was `expecting`.
struct WrittenVisitor {
    expecting: &'static str,
}

impl Visitor<'_> for WrittenVisitor {
    type Value = Written;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Written, E> {
        Ok(Written::Text(text.to_owned()))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Written, E> {
        Ok(Written::Whole(n))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Written, E> {
        Ok(u64::try_from(n).map_or(Written::Negative(n), Written::Whole))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Written, E> {
        Ok(Written::Float(n))
    }
}

#[cfg(test)]
mod tests;
