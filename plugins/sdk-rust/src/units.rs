//! Human units in plugin configs, read the way the host reads its own: sizes (`"64MiB"`) and
//! durations (`"250ms"`). The error is the reason alone, for the caller to put after the
//! key it belongs to, e.g. ``format!("`timeout` = \"{text}\" {reason}")``.

use std::time::Duration;

/// Parses `"4096"`, `"512KiB"`, `"64MiB"`, `"1GiB"` (also `KB`/`MB`/`GB`, powers of 1000).
pub fn parse_size(text: &str) -> Result<u64, &'static str> {
    let (value, unit) = split(text).ok_or("is not a size; write a whole number and a unit")?;
    let factor: u64 = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return Err("has no known unit; use B, KiB, MiB or GiB"),
    };
    value.checked_mul(factor).ok_or("is too large")
}

/// Parses `"500us"`, `"250ms"`, `"30s"`, `"2m"`, `"1h"`.
pub fn parse_duration(text: &str) -> Result<Duration, &'static str> {
    let (value, unit) = split(text).ok_or("is not a duration; write a whole number and a unit")?;
    let seconds = |factor: u64| value.checked_mul(factor).map(Duration::from_secs).ok_or("is too long");
    match unit {
        "us" => Ok(Duration::from_micros(value)),
        "ms" => Ok(Duration::from_millis(value)),
        "s" => seconds(1),
        "m" => seconds(60),
        "h" => seconds(3600),
        _ => Err("has no known unit; use us, ms, s, m or h"),
    }
}

/// The leading whole number and the unit after it.
fn split(text: &str) -> Option<(u64, &str)> {
    let text = text.trim();
    let end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    Some((text[..end].parse().ok()?, text[end..].trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("1 lot"), Err("has no known unit; use B, KiB, MiB or GiB"));
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("99999999999999GiB").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3 days").is_err());
    }
}
