//! The retry backoff range, `"FIRST..MAX"`: two durations in the shared grammar
//! (`evhost_cloudevents::units`).

use std::time::Duration;

use evhost_cloudevents::units::parse_duration;

/// Parses a backoff range "100ms..30s" into (first delay, largest delay).
pub fn parse_backoff(text: &str) -> Result<(Duration, Duration), String> {
    let (low, high) = text
        .split_once("..")
        .ok_or_else(|| format!("`{text}` is not a backoff range; write \"FIRST..MAX\", e.g. \"100ms..30s\""))?;
    let (low, high) =
        (parse_duration(low).map_err(|e| e.to_string())?, parse_duration(high).map_err(|e| e.to_string())?);
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
    fn backoff() {
        assert_eq!(parse_backoff("100ms..30s"), Ok((Duration::from_millis(100), Duration::from_secs(30))));
        assert_eq!(parse_backoff("1s..1h30m"), Ok((Duration::from_secs(1), Duration::from_secs(5400))));
        assert!(parse_backoff("30s..1s").is_err());
        assert!(parse_backoff("30s").unwrap_err().contains("not a backoff range"));
        assert!(parse_backoff("1s..soon").unwrap_err().contains("\"soon\" is not a duration"));
    }
}
