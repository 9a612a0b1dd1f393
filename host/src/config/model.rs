//! The shape of `evhost.toml`, as serde reads it. Unknown keys are errors everywhere, so a
//! typo is reported (with a suggestion) instead of silently ignored.

use evhost_cloudevents::units::{Duration, Size};
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub host: HostSection,
    #[serde(default)]
    pub log: LogSection,
    pub admin: Option<Spanned<AdminSection>>,
    #[serde(default)]
    pub producer: Vec<RawInstance>,
    #[serde(default)]
    pub consumer: Vec<RawInstance>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HostSection {
    /// How long shutdown may spend draining consumers, e.g. "30s".
    pub drain_timeout: Option<Spanned<Duration>>,
    /// The largest event `emit` accepts, e.g. "1MiB".
    pub max_event_bytes: Option<Spanned<Size>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// "memory" (the default) or "disk".
    pub kind: Option<Spanned<String>>,
    /// Events the log holds in memory before producers wait (or slow `drop_oldest`
    /// consumers lose).
    pub capacity: Option<Spanned<i64>>,
    /// Bytes of event data the log holds, e.g. "64MiB": in memory, or on disk.
    pub max_bytes: Option<Spanned<Size>>,
    // Disk log only.
    /// The folder of the disk log.
    pub path: Option<Spanned<String>>,
    /// "commit", "interval" or "never".
    pub fsync: Option<Spanned<String>>,
    pub fsync_interval: Option<Spanned<Duration>>,
    pub segment_bytes: Option<Spanned<Size>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// The address the admin endpoint listens on, e.g. "127.0.0.1:9464".
    pub listen: Option<Spanned<String>>,
    /// The bearer token `/metrics` and `/v1/status` require.
    pub token: Option<Spanned<String>>,
}

/// One `[[producer]]` or `[[consumer]]` table. The consumer-only keys are rejected on
/// producers during validation, with a message that says so.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInstance {
    pub name: Spanned<String>,
    pub library: Spanned<String>,
    pub plugin: Option<Spanned<String>>,
    pub config: Option<Spanned<toml::Table>>,
    // Consumer only.
    pub policy: Option<Spanned<String>>,
    pub batch: Option<Spanned<i64>>,
    pub retry: Option<Spanned<RawRetry>>,
    pub dead_letter: Option<Spanned<String>>,
    pub start: Option<Spanned<String>>,
    // Isolation (see config/isolate.rs).
    pub isolate: Option<Spanned<bool>>,
    pub restart: Option<Spanned<RawRetry>>,
    pub hook_timeout: Option<Spanned<Duration>>,
    pub max_memory: Option<Spanned<Size>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    pub attempts: Option<Spanned<i64>>,
    pub backoff: Option<Spanned<String>>,
}
