//! `GET /metrics`: the Prometheus text format (version 0.0.4), written by hand: a few
//! dozen lines, where a metrics crate would add a registry and a second copy of every
//! counter. Names follow Prometheus' conventions (`_total` counters, base units, `_seconds`),
//! and every instance's series carry the labels Vector users know: `instance` (its config
//! name), `plugin` (the plugin it runs) and `kind` (producer or consumer).

use std::fmt::Write;
use std::sync::atomic::AtomicU64;

use super::status::{Snapshot, State, Status};
use crate::config::Kind;
use crate::stats::{Histogram, Stats, BUCKETS};

/// One metric family after another, each with its HELP and TYPE once.
struct Text {
    out: String,
}

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &str, value: impl std::fmt::Display) {
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(self.out, "{name}{braces} {value}");
    }

    fn histogram(&mut self, name: &str, labels: &str, histogram: &Histogram) {
        let (cumulative, sum) = histogram.snapshot();
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, count) in BUCKETS.iter().zip(cumulative) {
            self.sample(&format!("{name}_bucket"), &format!("{labels}{sep}le=\"{bound}\""), count);
        }
        let count = cumulative[BUCKETS.len()];
        self.sample(&format!("{name}_bucket"), &format!("{labels}{sep}le=\"+Inf\""), count);
        self.sample(&format!("{name}_sum"), labels, sum);
        self.sample(&format!("{name}_count"), labels, count);
    }
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn labels(s: &Snapshot) -> String {
    format!("instance=\"{}\",plugin=\"{}\",kind=\"{}\"", escape(&s.name), escape(&s.plugin), s.kind.as_str())
}

type Counter = fn(&Stats) -> &AtomicU64;

/// Per-instance counters: name, help, and which kinds have it.
const COUNTERS: [(&str, &str, Option<Kind>, Counter); 10] = [
    ("evhost_emitted_events_total", "Events a producer emitted into the log.", Some(Kind::Producer), |s| &s.events),
    (
        "evhost_emitted_bytes_total",
        "Payload bytes (attributes and data) a producer emitted.",
        Some(Kind::Producer),
        |s| &s.bytes,
    ),
    ("evhost_received_events_total", "Events a consumer's on_events handled.", Some(Kind::Consumer), |s| &s.events),
    ("evhost_batches_total", "Emits a producer made, or on_events calls a consumer got.", None, |s| &s.batches),
    (
        "evhost_errors_total",
        "Emits refused (producer), or on_events calls that did not answer EVH_OK (consumer).",
        None,
        |s| &s.errors,
    ),
    (
        "evhost_retries_total",
        "Batches a consumer asked to have again (EVH_RETRY) and got after a backoff.",
        Some(Kind::Consumer),
        |s| &s.retries,
    ),
    (
        "evhost_dead_lettered_events_total",
        "Events a consumer failed, written to its dead-letter file.",
        Some(Kind::Consumer),
        |s| &s.dead_lettered,
    ),
    (
        "evhost_failed_events_total",
        "Events a consumer failed that it has no dead-letter file for: not delivered, and kept nowhere.",
        Some(Kind::Consumer),
        |s| &s.failed,
    ),
    (
        "evhost_lost_events_total",
        "Events a consumer failed that its dead-letter file could not take either.",
        Some(Kind::Consumer),
        |s| &s.lost,
    ),
    (
        "evhost_dropped_events_total",
        "Events a drop_oldest consumer skipped, a full log behind.",
        Some(Kind::Consumer),
        |s| &s.dropped,
    ),
];

/// The whole exposition.
pub fn render(status: &Status) -> String {
    let mut text = Text { out: String::new() };
    text.family("evhost_build_info", "gauge", "The evhost version and the plugin ABI version it speaks; always 1.");
    text.sample(
        "evhost_build_info",
        &format!("version=\"{}\",abi=\"{}\"", env!("CARGO_PKG_VERSION"), super::abi_version()),
        1,
    );
    text.family("evhost_reloads_total", "counter", "Reloads of the config (SIGHUP, POST /v1/reload), done or refused.");
    let (ok, failed) = status.reloads();
    text.sample("evhost_reloads_total", "result=\"ok\"", ok);
    text.sample("evhost_reloads_total", "result=\"failed\"", failed);
    let instances = status.snapshot();

    text.family("evhost_instance_state", "gauge", "1 for the state each instance is in, 0 for the others.");
    for s in &instances {
        for state in State::ALL {
            let value = u8::from(s.state == state);
            text.sample("evhost_instance_state", &format!("{},state=\"{}\"", labels(s), state.as_str()), value);
        }
    }
    // Only instances that exist have counters: none before their on_create returned.
    let created: Vec<(&Snapshot, &Stats)> = instances.iter().filter_map(|s| s.stats.map(|stats| (s, stats))).collect();
    for (name, help, kind, counter) in COUNTERS {
        text.family(name, "counter", help);
        for (s, stats) in created.iter().filter(|(s, _)| kind.is_none_or(|k| k == s.kind)) {
            text.sample(name, &labels(s), Stats::get(counter(stats)));
        }
    }
    text.family(
        "evhost_worker_restarts_total",
        "counter",
        "Deaths of an isolated instance's worker process, by what ended it (each is followed by a restart, or by the instance failing when its restarts ran out).",
    );
    for (instance, reason, n) in crate::stats::worker_restarts() {
        text.sample(
            "evhost_worker_restarts_total",
            &format!("instance=\"{}\",reason=\"{reason}\"", escape(&instance)),
            n,
        );
    }
    let consumers = || created.iter().filter(|(s, _)| s.kind == Kind::Consumer);
    text.family("evhost_on_events_duration_seconds", "histogram", "How long a consumer's on_events calls took.");
    for (s, stats) in consumers() {
        text.histogram("evhost_on_events_duration_seconds", &labels(s), &stats.on_events);
    }
    text.family(
        "evhost_consumer_lag_events",
        "gauge",
        "Events the log accepted that a consumer has not acknowledged yet.",
    );
    for (s, _) in consumers() {
        if let Some(lag) = s.lag {
            text.sample("evhost_consumer_lag_events", &labels(s), lag);
        }
    }
    text.family(
        "evhost_consumer_oldest_undelivered_age_seconds",
        "gauge",
        "How long ago the oldest event a consumer has not had yet was appended (0 when it has had every event).",
    );
    for (s, _) in consumers() {
        if s.lag.is_some() {
            let age = s.oldest_age.map_or(0.0, |age| age.as_secs_f64());
            text.sample("evhost_consumer_oldest_undelivered_age_seconds", &labels(s), age);
        }
    }

    let Some(log) = status.log() else { return text.out };
    let g = log.gauges();
    let gauges = [
        ("evhost_log_events", "Events the log holds in memory.", g.events),
        ("evhost_log_bytes", "Payload bytes of the events the log holds in memory.", g.bytes),
        ("evhost_log_capacity_events", "The most events the log holds in memory ([log] capacity).", g.capacity),
        ("evhost_log_capacity_bytes", "The most payload bytes the log holds in memory.", g.max_bytes),
        ("evhost_log_producers_waiting", "Producers waiting for room in the log (backpressure).", g.producers_waiting),
    ];
    for (name, help, value) in gauges {
        text.family(name, "gauge", help);
        text.sample(name, "", value);
    }
    if let Some(disk) = g.disk {
        let gauges = [
            ("evhost_log_disk_segments", "Segment files of the disk log.", disk.segments),
            ("evhost_log_disk_bytes", "Bytes of records in the disk log's segments.", disk.bytes),
            (
                "evhost_log_disk_capacity_bytes",
                "The most bytes the disk log's segments may take ([log] max_bytes).",
                disk.max_bytes,
            ),
        ];
        for (name, help, value) in gauges {
            text.family(name, "gauge", help);
            text.sample(name, "", value);
        }
        text.family("evhost_log_fsync_duration_seconds", "histogram", "How long the disk log's fsyncs took.");
        text.histogram("evhost_log_fsync_duration_seconds", "", &log.fsync);
    }
    text.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn a_histogram_has_cumulative_buckets_a_sum_and_a_count() {
        let histogram = Histogram::default();
        histogram.observe(std::time::Duration::from_micros(50));
        histogram.observe(std::time::Duration::from_secs(20));
        let mut text = Text { out: String::new() };
        text.histogram("h", "x=\"1\"", &histogram);
        let lines: Vec<&str> = text.out.lines().collect();
        assert_eq!(lines[0], "h_bucket{x=\"1\",le=\"0.00001\"} 0");
        assert_eq!(lines[2], "h_bucket{x=\"1\",le=\"0.0001\"} 1");
        assert_eq!(lines[BUCKETS.len()], "h_bucket{x=\"1\",le=\"+Inf\"} 2");
        assert_eq!(lines[BUCKETS.len() + 1], "h_sum{x=\"1\"} 20.00005");
        assert_eq!(lines[BUCKETS.len() + 2], "h_count{x=\"1\"} 2");
    }
}
