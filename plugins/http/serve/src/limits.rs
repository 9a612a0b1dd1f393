//! The limits and their defaults, checked once from a plugin's config keys.

use std::time::Duration;

use evhost_cloudevents::units;

/// hyper itself refuses a head at this many times `max_headers` or `max_header_bytes`
/// (a bare 431 and the connection closed); between the limit and this, the plugin answers
/// 431 with its reason, so an honest client that overshoots learns why.
pub const HARD_FACTOR: usize = 4;

/// What one endpoint allows a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_headers: usize,
    pub max_header_bytes: usize,
}

impl Default for Limits {
    /// Generous for any real client on a slow network, tight enough that holding a
    /// connection costs an attacker as much as it costs us.
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 256,
            max_headers: 100,
            max_header_bytes: 16 << 10,
        }
    }
}

/// A duration key: `"10s"`, `"500ms"`; at least 1 ms. `key` is the name the user wrote;
/// the error is the message for the plugin's config error.
pub fn duration_key(key: &str, value: Option<&units::Duration>, default: Duration) -> Result<Duration, String> {
    let Some(value) = value else { return Ok(default) };
    let duration = value.get().map_err(|e| e.for_key(key))?;
    if duration < Duration::from_millis(1) {
        return Err(format!("`{key}` = {value} is shorter than 1ms; write e.g. \"10s\""));
    }
    Ok(duration)
}

/// A count key that must be at least 1 and at most `most`.
pub fn count_key(key: &str, value: Option<u64>, default: usize, most: usize) -> Result<usize, String> {
    let Some(value) = value else { return Ok(default) };
    match usize::try_from(value) {
        Ok(n) if (1..=most).contains(&n) => Ok(n),
        _ => Err(format!("`{key}` = {value} must be between 1 and {most}; the default is {default}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_with_their_name() {
        let default = Duration::from_secs(1);
        let written = |text: &str| serde_json::from_value::<units::Duration>(text.into()).unwrap();
        assert_eq!(duration_key("t", None, default).unwrap(), default);
        assert_eq!(duration_key("t", Some(&written("250ms")), default).unwrap(), Duration::from_millis(250));
        assert!(duration_key("header_timeout", Some(&written("soon")), default)
            .unwrap_err()
            .contains("`header_timeout` = \"soon\""));
        assert!(duration_key("t", Some(&written("0s")), default).unwrap_err().contains("shorter than 1ms"));
        assert_eq!(count_key("n", Some(7), 3, 10).unwrap(), 7);
        assert!(count_key("max_connections", Some(0), 3, 10).unwrap_err().contains("between 1 and 10"));
    }
}
