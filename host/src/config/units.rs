//! Human units in the config: durations ("250ms", "30s", "2m") and sizes ("64MiB").

use std::time::Duration;

/// Parses "500us", "250ms", "30s", "2m", "1h".
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number.parse().map_err(|_| {
        format!("`{text}` is not a duration; write a whole number and a unit, e.g. \"250ms\" or \"30s\"")
    })?;
    let seconds = |factor: u64| value.checked_mul(factor).map(Duration::from_secs);
    let duration = match unit {
        "us" => Some(Duration::from_micros(value)),
        "ms" => Some(Duration::from_millis(value)),
        "s" => Some(Duration::from_secs(value)),
        "m" => seconds(60),
        "h" => seconds(3600),
        _ => return Err(format!("`{text}` has no known unit; use one of us, ms, s, m, h, e.g. \"30s\"")),
    };
    duration.ok_or_else(|| format!("`{text}` is too long"))
}

/// Parses "4096", "512KiB", "64MiB", "1GiB" (also KB/MB/GB as powers of 1000).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size; write a whole number and a unit, e.g. \"64MiB\""))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return Err(format!("`{text}` has no known unit; use B, KiB, MiB or GiB, e.g. \"64MiB\"")),
    };
    value.checked_mul(factor).ok_or_else(|| format!("`{text}` is too large"))
}

/// Parses a backoff range "100ms..30s" into (first delay, largest delay).
pub fn parse_backoff(text: &str) -> Result<(Duration, Duration), String> {
    let (low, high) = text
        .split_once("..")
        .ok_or_else(|| format!("`{text}` is not a backoff range; write \"FIRST..MAX\", e.g. \"100ms..30s\""))?;
    let (low, high) = (parse_duration(low)?, parse_duration(high)?);
    if low.is_zero() || low > high {
        return Err(format!(
            "`{text}`: the first delay must be above zero and at most the largest, e.g. \"100ms..30s\""
        ));
    }
    Ok((low, high))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("fast").unwrap_err().contains("not a duration"));
        assert!(parse_duration("3 days").unwrap_err().contains("no known unit"));
        assert!(parse_duration("9999999999999999h").unwrap_err().contains("too long"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("1TB").is_err());
    }

    #[test]
    fn backoff() {
        assert_eq!(parse_backoff("100ms..30s"), Ok((Duration::from_millis(100), Duration::from_secs(30))));
        assert!(parse_backoff("30s..1s").is_err());
        assert!(parse_backoff("30s").is_err());
    }
}
