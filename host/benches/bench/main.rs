//! `make bench`: every scenario of the performance issue, in one run on one machine, so
//! that ratios compare like with like. All throughput scenarios move 64-byte events from one
//! C `sequence` producer (batches of 256) to 4 `count` consumers and check that each
//! consumer saw every event and byte; a miss fails the run. `evhost_disk` and
//! `evhost_disk_interval` are `evhost_c` on the disk log (issue 11), in the run's temporary
//! folder, so on the disk that holds it. Each figure is the median of its runs. Prints a
//! table with the issues' targets and writes target/bench/results.json.
//!
//! Needs `make build` first (the release host and target/plugins); `make bench` does both.
//!
//! Arguments after `--` pick scenarios by name, to measure a few on a busy machine without
//! the rest: `cargo bench -p evhost --bench bench --features bench -- evhost_c
//! evhost_c_claim latency`. The throughput scenarios named run in rounds as usual, `latency`
//! and `idle` as named; the medians and the ratios among them are printed, and no
//! results.json is written. `BENCH_RUNS=9` changes the number of throughput rounds.

mod fixture;
mod host_process;
mod in_process;
mod metrics;
mod nats;
mod postgres;
mod report;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use fixture::{LogKind, Result};
use report::{Results, Scenario};

const THROUGHPUT_RUNS: usize = 5;
const RUNS: usize = 3;

fn main() -> ExitCode {
    // cargo passes `--bench` to a bench without the test harness; names are the rest.
    let names: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let outcome = if names.is_empty() { run() } else { run_some(&names) };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nbench FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// A throughput scenario: its name, how many events a run moves, and the run.
type Throughput<'a> = (&'static str, u64, Box<dyn Fn(u64) -> Result<Duration> + 'a>);

/// Runs every scenario [`THROUGHPUT_RUNS`] times, in rounds (each scenario once per round),
/// so that a noisy spell of the machine falls on all of them alike rather than on one
/// scenario's runs; the median rate of each.
fn throughput(scenarios: &[Throughput<'_>]) -> Result<Vec<Scenario>> {
    let rounds = std::env::var("BENCH_RUNS").ok().and_then(|n| n.parse().ok()).unwrap_or(THROUGHPUT_RUNS);
    let mut rates = vec![Vec::new(); scenarios.len()];
    for run in 1..=rounds {
        for ((name, events, scenario), rates) in scenarios.iter().zip(&mut rates) {
            let elapsed = scenario(*events).map_err(|e| format!("{name}: {e}"))?;
            let rate = *events as f64 / elapsed.as_secs_f64();
            eprintln!("{name:<20} run {run}/{rounds}: {:>8.2} M events/s ({elapsed:.2?})", rate / 1e6);
            rates.push(rate);
        }
    }
    Ok(scenarios
        .iter()
        .zip(rates)
        .map(|((name, events, _), rates)| Scenario {
            name,
            events_per_sec: median(rates),
            events: *events,
            runs: rounds,
        })
        .collect())
}

/// Runs `scenario` [`RUNS`] times, printing each result.
fn repeat<T: std::fmt::Debug>(name: &str, scenario: impl Fn() -> Result<T>) -> Result<Vec<T>> {
    (1..=RUNS)
        .map(|run| {
            let value = scenario().map_err(|e| format!("{name}: {e}"))?;
            eprintln!("{name:<20} run {run}/{RUNS}: {value:.4?}");
            Ok(value)
        })
        .collect()
}

/// Sized so that each run takes roughly 0.2 to 2 s on 2 cores. The host scenarios that
/// are compared with direct_calls move the same 20 M events, so the host's fixed cost
/// of starting and stopping (about 10 ms) weighs the same in each.
const EVENTS: u64 = 20_000_000;
/// The disk scenarios move fewer: each event takes about 76 bytes on disk, and 20 M of them
/// would write 1.5 GB a run.
const DISK_EVENTS: u64 = 5_000_000;

/// Every throughput scenario, in the order they run in a round.
fn scenarios<'a>(c: &'a Path, rust: &'a Path, go: &'a Path) -> Vec<Throughput<'a>> {
    let host = |log, producer, consumer| move |n| host_process::throughput(log, producer, consumer, n);
    vec![
        ("direct_calls", EVENTS, Box::new(in_process::direct_calls)),
        ("tokio_broadcast", 2_000_000, Box::new(in_process::tokio_broadcast)),
        ("tokio_broadcast_batched", EVENTS, Box::new(in_process::tokio_broadcast_batched)),
        ("evhost_c", EVENTS, Box::new(host(LogKind::Memory, c, c))),
        ("evhost_c_claim", EVENTS, Box::new(move |n| host_process::throughput_claim(c, n))),
        ("evhost_c_isolated", EVENTS, Box::new(move |n| host_process::throughput_isolated(c, c, n))),
        ("evhost_disk", DISK_EVENTS, Box::new(host(LogKind::Disk, c, c))),
        ("evhost_disk_interval", DISK_EVENTS, Box::new(host(LogKind::DiskInterval, c, c))),
        ("evhost_c_metrics", EVENTS, Box::new(move |n| metrics::throughput(c, c, n))),
        ("evhost_rust", EVENTS, Box::new(host(LogKind::Memory, rust, rust))),
        ("evhost_go", EVENTS, Box::new(host(LogKind::Memory, c, go))),
    ]
}

/// The scenarios `names` picks (see the module doc).
fn run_some(names: &[String]) -> Result<()> {
    fixture::snapshot_libraries()?;
    let (c, rust, go) = (fixture::library("c")?, fixture::library("rust")?, fixture::library("go")?);
    let all = scenarios(&c, &rust, &go);
    let known: Vec<&str> = all.iter().map(|(name, ..)| *name).chain(["latency", "latency_isolated", "idle"]).collect();
    if let Some(unknown) = names.iter().find(|n| !known.contains(&n.as_str())) {
        return Err(format!("no scenario {unknown:?}; pick from {}", known.join(", ")));
    }
    let picked: Vec<_> = all.into_iter().filter(|(name, ..)| names.iter().any(|n| n == name)).collect();
    let measured = throughput(&picked)?;
    for s in &measured {
        println!("{:<24} {:>8.2} M events/s (median of {})", s.name, s.events_per_sec / 1e6, s.runs);
    }
    let rate = |name: &str| measured.iter().find(|s| s.name == name).map(|s| s.events_per_sec);
    for (a, b, goal) in report::RATIOS {
        if let (Some(x), Some(y)) = (rate(a), rate(b)) {
            let goal = goal.map_or(String::new(), |g| format!(" (goal >= {g})"));
            println!("{a} / {b}: {:.3}{goal}", x / y);
        }
    }
    for (name, isolated) in [("latency", false), ("latency_isolated", true)] {
        if !names.iter().any(|n| n == name) {
            continue;
        }
        let latencies = repeat(name, || host_process::latency(isolated))?;
        let p = |pick: fn(&host_process::Latency) -> f64| median(latencies.iter().map(pick).collect());
        println!(
            "{name}: p50 {:.1} us, p99 {:.1} us, p999 {:.1} us; delivery threads {:.3} cores, host {:.3} cores (medians of {})",
            p(|l| l.p50 as f64) / 1e3,
            p(|l| l.p99 as f64) / 1e3,
            p(|l| l.p999 as f64) / 1e3,
            p(|l| l.delivery_cores),
            p(|l| l.host_cores),
            latencies.len()
        );
    }
    if names.iter().any(|n| n == "idle") {
        println!("idle: {:.4} cores", median(repeat("idle (cores)", host_process::idle)?));
    }
    Ok(())
}

fn run() -> Result<()> {
    fixture::snapshot_libraries()?;
    let (c, rust, go) = (fixture::library("c")?, fixture::library("rust")?, fixture::library("go")?);
    let mut scenarios = throughput(&scenarios(&c, &rust, &go))?;

    let rate = |name: &str| scenarios.iter().find(|s| s.name == name).map_or(f64::NAN, |s| s.events_per_sec);
    eprintln!(
        "evhost_c_metrics / evhost_c: {:.3} (metrics on and scraped every second)",
        rate("evhost_c_metrics") / rate("evhost_c")
    );
    nats::install()?;
    let nats_rates = repeat("nats_roundtrip", nats::roundtrip)?;
    let runs = nats_rates.len();
    scenarios.push(Scenario { name: "nats_roundtrip", events_per_sec: median(nats_rates), events: nats::EVENTS, runs });

    let latencies = repeat("latency", || host_process::latency(false))?;
    let isolated = repeat("latency isolated", || host_process::latency(true))?;
    let percentiles = |runs: &[host_process::Latency]| {
        let percentile =
            |pick: fn(&host_process::Latency) -> u64| median(runs.iter().map(|l| pick(l) as f64).collect()) as u64;
        [percentile(|l| l.p50), percentile(|l| l.p99), percentile(|l| l.p999)]
    };
    let (latency_ns, latency_isolated_ns) = (percentiles(&latencies), percentiles(&isolated));
    let cores = |pick: fn(&host_process::Latency) -> f64| median(latencies.iter().map(pick).collect());
    let commits = repeat("commit latency", host_process::commit_latency)?;
    let idle = repeat("idle (cores)", host_process::idle)?;
    let rss = repeat("slow RSS (MiB)", host_process::slow_consumer)?;
    let pg = postgres::postgres_to_consumer()?;

    let results = Results {
        scenarios,
        latency_ns,
        latency_isolated_ns,
        latency_runs: latencies.len(),
        latency_delivery_cores: cores(|l| l.delivery_cores),
        latency_host_cores: cores(|l| l.host_cores),
        commit_latency: report::CommitLatency::median(&commits),
        idle_cpu_cores: median(idle.clone()),
        idle_runs: idle.len(),
        slow_consumer_rss_mib: median(rss.clone()),
        slow_runs: rss.len(),
    };
    results.print();
    postgres::report(&pg)?;
    let path = fixture::workspace().join("target/bench/results.json");
    results.write_json(&path)?;
    println!("\nwrote {}", path.display());
    Ok(())
}
