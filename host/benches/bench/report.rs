//! The results: a table with the targets marked PASS or MISS, and
//! target/bench/results.json. A missed target is reported, never a failure: only a consumer
//! that missed events fails the run.

use std::path::Path;

use serde_json::json;

use crate::fixture::{Result, PAYLOAD};
use crate::host_process::{self, COMMIT_RATE, LATENCY_RATE, SLOW_CAPACITY};

/// One throughput scenario: the median over its runs.
pub struct Scenario {
    pub name: &'static str,
    pub events_per_sec: f64,
    pub events: u64,
    pub runs: usize,
}

/// The commit-latency scenario: medians over its runs, or why it was not measured.
pub enum CommitLatency {
    /// p50, p99, p999 in ns, and the pace the producer reached in events/s.
    Measured { ns: [u64; 3], rate: u64, runs: usize },
    /// The host did not take `EVH_EMIT_COMMIT`.
    Refused(String),
}

impl CommitLatency {
    /// The median of each figure; refused if any run was.
    pub fn median(runs: &[host_process::CommitLatency]) -> CommitLatency {
        let mut measured = Vec::new();
        for run in runs {
            match run {
                host_process::CommitLatency::Measured { p50, p99, p999, rate } => {
                    measured.push([*p50, *p99, *p999, *rate])
                }
                host_process::CommitLatency::Refused(why) => return CommitLatency::Refused(why.clone()),
            }
        }
        let [p50, p99, p999, rate] =
            std::array::from_fn(|i| crate::median(measured.iter().map(|m| m[i] as f64).collect()) as u64);
        CommitLatency::Measured { ns: [p50, p99, p999], rate, runs: measured.len() }
    }

    fn to_json(&self) -> serde_json::Value {
        match self {
            CommitLatency::Measured { ns: [p50, p99, p999], rate, .. } => {
                json!({"p50": p50, "p99": p99, "p999": p999, "rate": COMMIT_RATE, "rate_reached": rate})
            }
            CommitLatency::Refused(why) => json!({"refused": why, "rate": COMMIT_RATE}),
        }
    }
}

/// The ratios of throughput the issues set goals for (`None`: reported, no goal): a / b.
/// Issue 16 raised the goals: `evhost_c` 0.5 × `direct_calls` (also with claim and
/// publish), Rust and Go at 0.9 × C. Issue 12 sets no number for isolation: its cost is reported.
pub const RATIOS: [(&str, &str, Option<f64>); 11] = [
    ("evhost_c", "direct_calls", Some(0.5)),
    ("evhost_c_claim", "direct_calls", Some(0.5)),
    ("evhost_c_claim", "evhost_c", None),
    ("evhost_rust", "evhost_c", Some(0.9)),
    ("evhost_c_isolated", "evhost_c", None),
    ("evhost_c", "tokio_broadcast", Some(3.0)),
    ("evhost_c", "tokio_broadcast_batched", None),
    ("evhost_c_metrics", "evhost_c", None),
    ("evhost_go", "evhost_c", Some(0.9)),
    ("evhost_disk", "evhost_c", Some(0.5)),
    ("evhost_disk_interval", "evhost_c", None),
];

/// Medians over the runs of each scenario.
pub struct Results {
    pub scenarios: Vec<Scenario>,
    /// p50, p99, p999 in ns.
    pub latency_ns: [u64; 3],
    /// The same with the four consumers isolated.
    pub latency_isolated_ns: [u64; 3],
    pub latency_runs: usize,
    /// The CPU the delivery threads and the whole host used during the latency runs, in
    /// cores (medians).
    pub latency_delivery_cores: f64,
    pub latency_host_cores: f64,
    pub commit_latency: CommitLatency,
    pub idle_cpu_cores: f64,
    pub idle_runs: usize,
    pub slow_consumer_rss_mib: f64,
    pub slow_runs: usize,
}

/// What the log may hold at most, for the RSS bound: each event's struct plus its data.
const EVENT_STRUCT_BYTES: u64 = std::mem::size_of::<evhost_abi::evh_event>() as u64;
const BASE_RSS_MIB: f64 = 64.0;

pub fn rss_bound_mib() -> f64 {
    BASE_RSS_MIB + (SLOW_CAPACITY as u64 * (EVENT_STRUCT_BYTES + PAYLOAD)) as f64 / (1u64 << 20) as f64
}

impl Results {
    fn rate(&self, name: &str) -> Option<f64> {
        self.scenarios.iter().find(|s| s.name == name).map(|s| s.events_per_sec)
    }

    pub fn to_json(&self) -> serde_json::Value {
        let scenarios: serde_json::Map<String, serde_json::Value> = self
            .scenarios
            .iter()
            .map(|s| {
                (
                    s.name.to_string(),
                    json!({"events_per_sec": s.events_per_sec.round(), "events": s.events, "runs": s.runs}),
                )
            })
            .collect();
        let ratios: serde_json::Map<String, serde_json::Value> = self
            .ratios()
            .map(|(a, b, ratio, _)| (format!("{a} / {b}"), json!((ratio * 1000.0).round() / 1000.0)))
            .collect();
        let [p50, p99, p999] = self.latency_ns;
        json!({
            "scenarios": scenarios,
            "ratios": ratios,
            "latency_ns": {"p50": p50, "p99": p99, "p999": p999, "rate": LATENCY_RATE},
            "latency_isolated_ns": {
                "p50": self.latency_isolated_ns[0],
                "p99": self.latency_isolated_ns[1],
                "p999": self.latency_isolated_ns[2],
                "rate": LATENCY_RATE,
            },
            "latency_cpu_cores": {"delivery_threads": self.latency_delivery_cores, "host": self.latency_host_cores},
            "commit_latency_ns": self.commit_latency.to_json(),
            "idle_cpu_cores": self.idle_cpu_cores,
            "slow_consumer_rss_mib": (self.slow_consumer_rss_mib * 10.0).round() / 10.0,
        })
    }

    pub fn write_json(&self, path: &Path) -> Result<()> {
        let dir = path.parent().expect("a file in a folder");
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let text = serde_json::to_string_pretty(&self.to_json()).expect("plain values serialize") + "\n";
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// Each of [`RATIOS`] whose scenarios ran: a, b, a / b and its goal.
    fn ratios(&self) -> impl Iterator<Item = (&'static str, &'static str, f64, Option<f64>)> + '_ {
        RATIOS.iter().filter_map(|&(a, b, goal)| Some((a, b, self.rate(a)? / self.rate(b)?, goal)))
    }

    /// Each target of the issues: what, the measured value, the goal, and whether it is met
    /// (`None`: a figure reported without a goal).
    fn targets(&self) -> Vec<(String, String, String, Option<bool>)> {
        let mut targets: Vec<_> = self
            .ratios()
            .map(|(a, b, ratio, goal)| {
                let shown = goal.map_or("(reported)".into(), |g| format!(">= {g}"));
                (format!("{a} / {b}"), format!("{ratio:.2}"), shown, goal.map(|g| ratio >= g))
            })
            .collect();
        let p99_us = self.latency_ns[1] as f64 / 1000.0;
        targets.push(("latency p99".into(), format!("{p99_us:.1} us"), "<= 20 us".into(), Some(p99_us <= 20.0)));
        targets.push((
            "idle CPU".into(),
            format!("{:.4} cores", self.idle_cpu_cores),
            "<= 0.01 cores".into(),
            Some(self.idle_cpu_cores <= 0.01),
        ));
        let bound = rss_bound_mib();
        targets.push((
            "slow consumer peak RSS".into(),
            format!("{:.1} MiB", self.slow_consumer_rss_mib),
            format!("<= {bound:.1} MiB"),
            Some(self.slow_consumer_rss_mib <= bound),
        ));
        targets
    }

    pub fn print(&self) {
        println!();
        println!("{:<22} {:>12} {:>5} {:>14} {:>10}", "scenario", "events", "runs", "events/s", "/ direct");
        let direct = self.rate("direct_calls");
        for s in &self.scenarios {
            let share = direct.map_or(String::new(), |d| format!("{:.3}", s.events_per_sec / d));
            println!("{:<22} {:>12} {:>5} {:>12.2} M {:>10}", s.name, s.events, s.runs, s.events_per_sec / 1e6, share);
        }
        let [p50, p99, p999] = self.latency_ns.map(|ns| ns as f64 / 1000.0);
        println!();
        println!(
            "latency at {LATENCY_RATE} events/s: p50 {p50:.1} us, p99 {p99:.1} us, p999 {p999:.1} us ({} runs); CPU meanwhile: delivery threads {:.3} cores, the whole host {:.3}",
            self.latency_runs, self.latency_delivery_cores, self.latency_host_cores
        );
        let [p50, p99, p999] = self.latency_isolated_ns.map(|ns| ns as f64 / 1000.0);
        println!("latency with the consumers isolated: p50 {p50:.1} us, p99 {p99:.1} us, p999 {p999:.1} us");
        match &self.commit_latency {
            CommitLatency::Measured { ns, rate, runs } => {
                let [p50, p99, p999] = ns.map(|ns| ns as f64 / 1000.0);
                println!(
                    "commit latency (emit until committed, disk log, fsync = \"commit\") at {COMMIT_RATE} events/s (reached {rate}): p50 {p50:.1} us, p99 {p99:.1} us, p999 {p999:.1} us ({runs} runs)"
                );
            }
            CommitLatency::Refused(why) => println!("commit latency at {COMMIT_RATE} events/s: not measured: {why}"),
        }
        println!("idle: {:.4} cores ({} runs of 5 s)", self.idle_cpu_cores, self.idle_runs);
        println!(
            "slow consumer: peak RSS {:.1} MiB with a log capacity of {SLOW_CAPACITY} events ({} runs)",
            self.slow_consumer_rss_mib, self.slow_runs
        );
        println!();
        println!("{:<34} {:>14} {:>16}  result", "target", "value", "goal");
        for (what, value, goal, pass) in self.targets() {
            let result = match pass {
                Some(true) => "PASS",
                Some(false) => "MISS",
                None => "-",
            };
            println!("{what:<34} {value:>14} {goal:>16}  {result}");
        }
    }
}
