//! Scenarios that run the real `evhost run -c <config>` binary as a child process, with the
//! libraries `make build` put in target/plugins: throughput (timed from spawn to exit) on the
//! memory and the disk log, latency, commit latency, idle CPU and the slow consumer's peak
//! memory.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::fixture::{self, Config, LogKind, Result, CONSUMERS, PAYLOAD};

/// The host running one config, its log going to a file in the run's folder.
struct Host {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Host {
    fn spawn(dir: tempfile::TempDir, config: &Config) -> Result<Host> {
        let path = dir.path().join("bench.toml");
        std::fs::write(&path, config.text()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let log = dir.path().join("evhost.log");
        let out = File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(fixture::evhost_binary()?)
            .args(["run", "-c"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start evhost: {e}"))?;
        Ok(Host { child, log, _dir: dir })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails unless the host exited with status 0, quoting its log.
    fn check_exit(&mut self, status: std::process::ExitStatus) -> Result<()> {
        if status.success() {
            return Ok(());
        }
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        Err(format!("evhost exited with {status}; its log:\n{log}"))
    }

    fn wait(&mut self) -> Result<()> {
        let status = self.child.wait().map_err(|e| format!("cannot wait for evhost: {e}"))?;
        self.check_exit(status)
    }

    /// Fails if the host has already exited: a scenario that needs it running is broken.
    fn still_running(&mut self) -> Result<()> {
        match self.child.try_wait().map_err(|e| e.to_string())? {
            None => Ok(()),
            Some(status) => {
                self.check_exit(status)?;
                Err("evhost exited by itself, but this scenario needs it running".into())
            }
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // Only after an error: a host left running would skew the scenarios after it.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Throughput of the real host on `log`: `events` from the `sequence` of `producer_lib`
/// into 4 `count` consumers of `consumer_lib`, from spawn to exit (for the disk log: into a
/// new, empty log in the run's folder). Checks every consumer's totals.
pub fn throughput(log: LogKind, producer_lib: &Path, consumer_lib: &Path, events: u64) -> Result<Duration> {
    let dir = fixture::run_dir()?;
    let (config, files) = fixture::fan_out(dir.path(), log, producer_lib, consumer_lib, events);
    timed(dir, &config, &files, events)
}

/// `evhost_c_claim`: [`throughput`] of the C `sequence` with `claim = true`, writing its
/// events in place with claim and publish (ABI 1.2) instead of `emit`.
pub fn throughput_claim(c: &Path, events: u64) -> Result<Duration> {
    let dir = fixture::run_dir()?;
    let producer = format!("{}, claim = true", fixture::sequence(events));
    let (config, files) = fixture::fan_out_with(dir.path(), LogKind::Memory, c, &producer, c);
    timed(dir, &config, &files, events)
}

/// Runs `config` from spawn to exit and checks every consumer's totals.
fn timed(dir: tempfile::TempDir, config: &Config, files: &[PathBuf], events: u64) -> Result<Duration> {
    let start = Instant::now();
    let mut host = Host::spawn(dir, config)?;
    host.wait()?;
    let elapsed = start.elapsed();
    fixture::verify_counts(files, events, PAYLOAD)?;
    Ok(elapsed)
}

/// [`throughput`] on the memory log with the consumers isolated (`isolate = true`): each
/// in a worker process of its own, its batches crossing a Unix socket.
pub fn throughput_isolated(producer_lib: &Path, consumer_lib: &Path, events: u64) -> Result<Duration> {
    let dir = fixture::run_dir()?;
    let (config, files) = Config::default()
        .plugin("producer", "sequence", producer_lib, "sequence", &fixture::sequence(events), "")
        .counts_with(dir.path(), consumer_lib, 0..CONSUMERS, "isolate = true");
    let start = Instant::now();
    let mut host = Host::spawn(dir, &config)?;
    host.wait()?;
    let elapsed = start.elapsed();
    fixture::verify_counts(&files, events, PAYLOAD)?;
    Ok(elapsed)
}

/// The ticker's pace and event count in the latency scenario: 3 s of events.
pub const LATENCY_RATE: u64 = 100_000;
const LATENCY_EVENTS: u64 = 3 * LATENCY_RATE;
/// The ticker's data: an 8-byte timestamp.
const STAMP_BYTES: u64 = 8;

#[derive(Debug)]
pub struct Latency {
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    /// CPU the delivery threads (`deliver-*`) used during the run, in cores (CPU time over
    /// the time between the first and the last sample), and all of the host's threads
    /// together.
    pub delivery_cores: f64,
    pub host_cores: f64,
}

/// How often the latency scenario samples the host's threads' CPU time. Rarely: each
/// sample reads two files per thread, and on 2 busy cores the sampler preempts the ticker
/// or the delivery thread it measures (every 20 ms, it put a 25 µs blip into the latencies).
const CPU_SAMPLE: Duration = Duration::from_millis(250);

/// CPU time so far of each thread of `pid`, by thread id, with whether it is a delivery
/// thread; empty once the process is gone.
fn thread_times(pid: u32) -> Vec<(u64, bool, u64)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    tasks
        .flatten()
        .filter_map(|task| {
            let tid = task.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
            let schedstat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            let ns = schedstat.split_whitespace().next()?.parse().ok()?;
            Some((tid, comm.starts_with("deliver-"), ns))
        })
        .collect()
}

/// Emit-to-delivery latency: the C `ticker` at [`LATENCY_RATE`] events/s, one per emit,
/// into the C `latency` consumer and 3 C `count` consumers beside it; with `isolated`, all
/// four consumers run isolated (`isolate = true`).
pub fn latency(isolated: bool) -> Result<Latency> {
    let extra = if isolated { "isolate = true" } else { "" };
    let dir = fixture::run_dir()?;
    let (c, fixtures) = (fixture::library("c")?, fixture::c_fixtures()?);
    let ticker = format!("rate = {LATENCY_RATE}, count = {LATENCY_EVENTS}, batch = 1");
    let latency_file = dir.path().join("latency.json");
    let config = Config::default().plugin("producer", "ticker", &fixtures, "ticker", &ticker, "").plugin(
        "consumer",
        "latency",
        &fixtures,
        "latency",
        &format!("path = {}", fixture::quoted(&latency_file)),
        extra,
    );
    let (config, files) = config.counts_with(dir.path(), &c, 1..CONSUMERS, extra);
    let mut host = Host::spawn(dir, &config)?;
    // Each thread's first and last sample, and when the first and last samples were taken:
    // the rate between them, since a thread's time is lost once it ends.
    let mut threads = std::collections::BTreeMap::new();
    let mut window = None;
    let status = loop {
        let now = Instant::now();
        for (tid, delivery, ns) in thread_times(host.pid()) {
            threads.entry(tid).or_insert((delivery, ns, ns)).2 = ns;
            window = Some((window.map_or(now, |(first, _)| first), now));
        }
        if let Some(status) = host.child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        thread::sleep(CPU_SAMPLE);
    };
    host.check_exit(status)?;
    let Some((first, last)) = window.filter(|(first, last)| last > first) else {
        return Err("the run ended before its threads' CPU time could be sampled twice".into());
    };
    let span = (last - first).as_nanos() as f64;
    let cores = |delivery_only: bool| {
        let used = threads.values().filter(|(delivery, ..)| *delivery || !delivery_only);
        used.map(|(_, first_ns, last_ns)| (last_ns - first_ns) as f64).sum::<f64>() / span
    };
    fixture::verify_counts(&files, LATENCY_EVENTS, STAMP_BYTES)?;
    let json = fixture::read_json(&latency_file)?;
    let count = fixture::field(&json, &latency_file, "count")?;
    if count != LATENCY_EVENTS {
        return Err(format!("the latency consumer saw {count} events of {LATENCY_EVENTS}"));
    }
    Ok(Latency {
        p50: fixture::field(&json, &latency_file, "p50_ns")?,
        p99: fixture::field(&json, &latency_file, "p99_ns")?,
        p999: fixture::field(&json, &latency_file, "p999_ns")?,
        delivery_cores: cores(true),
        host_cores: cores(false),
    })
}

/// The commit-latency scenario's pace, events and emitting threads: 3 s of events, one per
/// emit, from enough threads that the pace holds while each waits about an fsync.
pub const COMMIT_RATE: u64 = 10_000;
const COMMIT_EVENTS: u64 = 3 * COMMIT_RATE;
const COMMIT_THREADS: u64 = 32;

/// What the commit-latency scenario found.
#[derive(Debug)]
pub enum CommitLatency {
    /// Emit-to-commit latencies in ns, and the pace the producer reached, in events/s.
    Measured { p50: u64, p99: u64, p999: u64, rate: u64 },
    /// The host did not take `EVH_EMIT_COMMIT` (an ABI 1.0 host ignores it): why.
    Refused(String),
}

/// Emit-to-commit latency on the disk log (`fsync = "commit"`): the C `commit_latency`
/// producer emits one event at a time with `EVH_EMIT_COMMIT` at [`COMMIT_RATE`] events/s
/// and times each emit until it returns, with 4 C `count` consumers reading the log.
pub fn commit_latency() -> Result<CommitLatency> {
    let dir = fixture::run_dir()?;
    let (c, fixtures) = (fixture::library("c")?, fixture::c_fixtures()?);
    let out = dir.path().join("commit_latency.json");
    let producer = format!(
        "rate = {COMMIT_RATE}, count = {COMMIT_EVENTS}, threads = {COMMIT_THREADS}, payload_bytes = {PAYLOAD}, path = {}",
        fixture::quoted(&out)
    );
    let (config, files) = Config::default()
        .log(LogKind::Disk, dir.path())
        .plugin("producer", "commit_latency", &fixtures, "commit_latency", &producer, "")
        .counts(dir.path(), &c, 0..CONSUMERS);
    let mut host = Host::spawn(dir, &config)?;
    host.wait()?;
    let json = fixture::read_json(&out)?;
    if let Some(why) = json["refused"].as_str() {
        fixture::verify_counts(&files, 0, 0)?;
        return Ok(CommitLatency::Refused(why.to_string()));
    }
    let count = fixture::field(&json, &out, "count")?;
    if count != COMMIT_EVENTS {
        return Err(format!("the commit_latency producer emitted {count} events of {COMMIT_EVENTS}"));
    }
    fixture::verify_counts(&files, COMMIT_EVENTS, PAYLOAD)?;
    Ok(CommitLatency::Measured {
        p50: fixture::field(&json, &out, "p50_ns")?,
        p99: fixture::field(&json, &out, "p99_ns")?,
        p999: fixture::field(&json, &out, "p999_ns")?,
        rate: fixture::field(&json, &out, "rate")?,
    })
}

/// CPU time all threads of `pid` have used so far: the first field of each thread's
/// schedstat, in ns (finer than the clock ticks of /proc/<pid>/stat).
fn cpu_time(pid: u32) -> Result<Duration> {
    let tasks = format!("/proc/{pid}/task");
    let mut ns = 0u64;
    for task in std::fs::read_dir(&tasks).map_err(|e| format!("cannot list {tasks}: {e}"))? {
        let path = task.map_err(|e| e.to_string())?.path().join("schedstat");
        // A thread that ended meanwhile has no file any more; the idle host starts none.
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        ns += text
            .split_whitespace()
            .next()
            .and_then(|f| f.parse::<u64>().ok())
            .ok_or_else(|| format!("{} reads {text:?}", path.display()))?;
    }
    Ok(Duration::from_nanos(ns))
}

const IDLE_SETTLE: Duration = Duration::from_secs(1);
const IDLE_MEASURE: Duration = Duration::from_secs(5);

/// CPU cores an idle host uses: a `ticker` that emits nothing and 4 `count` consumers,
/// measured over 5 s after 1 s of settling; then SIGTERM, and the host must exit 0.
pub fn idle() -> Result<f64> {
    let dir = fixture::run_dir()?;
    let (c, fixtures) = (fixture::library("c")?, fixture::c_fixtures()?);
    let (config, files) = Config::default()
        .plugin("producer", "ticker", &fixtures, "ticker", "count = 0, rate = 0", "")
        .counts(dir.path(), &c, 0..CONSUMERS);
    let mut host = Host::spawn(dir, &config)?;
    thread::sleep(IDLE_SETTLE);
    host.still_running()?;
    let before = cpu_time(host.pid())?;
    thread::sleep(IDLE_MEASURE);
    host.still_running()?;
    let used = cpu_time(host.pid())? - before;
    kill(Pid::from_raw(host.pid() as i32), Signal::SIGTERM)
        .map_err(|e| format!("cannot send SIGTERM to evhost: {e}"))?;
    host.wait()?;
    fixture::verify_counts(&files, 0, 0)?;
    Ok(used.as_secs_f64() / IDLE_MEASURE.as_secs_f64())
}

/// The slow-consumer scenario's log capacity, events and sampling period.
pub const SLOW_CAPACITY: usize = 65536;
const SLOW_EVENTS: u64 = 2_000_000;
const RSS_SAMPLE: Duration = Duration::from_millis(50);

/// The process's peak resident set so far (`VmHWM`), in KiB; None once it has exited.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Peak RSS in MiB while 2 M events pass a consumer that sleeps 1 ms per batch under the
/// `block` policy, beside 3 `count` consumers, with a log of [`SLOW_CAPACITY`] events.
pub fn slow_consumer() -> Result<f64> {
    let dir = fixture::run_dir()?;
    let (c, fixtures) = (fixture::library("c")?, fixture::c_fixtures()?);
    let slow_file = dir.path().join("slow.json");
    let config = Config::default()
        .log_capacity(SLOW_CAPACITY)
        .plugin("producer", "sequence", &c, "sequence", &fixture::sequence(SLOW_EVENTS), "")
        .plugin(
            "consumer",
            "slow",
            &fixtures,
            "slow",
            &format!("sleep_ms = 1, path = {}", fixture::quoted(&slow_file)),
            "policy = \"block\"\n",
        );
    let (config, counts) = config.counts(dir.path(), &c, 1..CONSUMERS);
    let files: Vec<PathBuf> = std::iter::once(slow_file).chain(counts).collect();
    let mut host = Host::spawn(dir, &config)?;
    let mut peak_kib = 0;
    let status = loop {
        // VmHWM only grows, so the last sample before exit holds the peak but for the
        // final 50 ms of shutdown, which frees rather than allocates.
        if let Some(kib) = peak_rss_kib(host.pid()) {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = host.child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        thread::sleep(RSS_SAMPLE);
    };
    host.check_exit(status)?;
    fixture::verify_counts(&files, SLOW_EVENTS, PAYLOAD)?;
    Ok(peak_kib as f64 / 1024.0)
}
