//! `postgres_to_consumer`: the `postgres` producer against a real PostgreSQL that
//! tests/services/postgres.sh starts on a free port in a temporary folder. Rows per second
//! from one bulk insert to a consumer (from the commit to the last row delivered), and
//! commit-to-delivery latency of single-row transactions (p50, p99). The consumer is `file`
//! writing to the host's stdout, which this reads line by line: each event's `time` is its
//! commit time, on this machine's clock.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::fixture::{self, Result};

const BULK_ROWS: u64 = 100_000;
const LATENCY_ROWS: u64 = 500;
const RUNS: usize = 3;
const WAIT: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct Figures {
    pub rows_per_sec: f64,
    pub p50_us: u64,
    pub p99_us: u64,
}

struct Server {
    dir: tempfile::TempDir,
    port: u16,
}

fn script(args: &[&str]) -> Result<()> {
    let path = fixture::workspace().join("tests/services/postgres.sh");
    let out = Command::new(&path).args(args).output().map_err(|e| format!("cannot run {}: {e}", path.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("postgres.sh {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr)))
    }
}

impl Server {
    fn start() -> Result<Server> {
        script(&["install"])?;
        let dir = fixture::run_dir()?;
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        script(&["start", &port.to_string(), &dir.path().display().to_string()])?;
        Ok(Server { dir, port })
    }

    /// Runs `sql` with psql, from a file: psql sends each statement on its own, so each is
    /// a transaction (one `-c` string of several statements would be one transaction).
    fn sql(&self, sql: &str) -> Result<()> {
        let script = self.dir.path().join("script.sql");
        std::fs::write(&script, sql).map_err(|e| format!("cannot write {}: {e}", script.display()))?;
        let out = Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "evhost", "-d", "evhost"])
            .args(["-p", &self.port.to_string(), "-f"])
            .arg(&script)
            .env("PGPASSWORD", "evhost")
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run psql: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("psql failed: {}", String::from_utf8_lossy(&out.stderr)))
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = script(&["stop", &self.dir.path().display().to_string()]);
    }
}

/// The benchmark's own copy of a library from target/plugins (see `snapshot_libraries`).
fn copy(name: &str) -> Result<PathBuf> {
    let from = fixture::workspace().join("target/plugins").join(name);
    let to = fixture::workspace().join("target/bench/plugins").join(name);
    let _ = std::fs::remove_file(&to);
    std::fs::copy(&from, &to).map_err(|e| format!("cannot copy {}: {e}; run `make bench`", from.display()))?;
    Ok(to)
}

fn micros_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// Each delivered event: when it arrived and when it was committed, in µs since 1970.
type Arrival = (i64, i64);

struct Host {
    child: Child,
    arrivals: mpsc::Receiver<Arrival>,
    _dir: tempfile::TempDir,
}

impl Host {
    fn spawn(server: &Server, postgres: &Path, file: &Path, slot: &str) -> Result<Host> {
        let dir = fixture::run_dir()?;
        let config = format!(
            "[[producer]]\nname = \"pg\"\nlibrary = {}\nconfig = {{ url = \"postgres://evhost:evhost@127.0.0.1:{}/evhost\", tables = [\"bench\"], slot = \"{slot}\", publication = \"{slot}\" }}\n\n[[consumer]]\nname = \"out\"\nlibrary = {}\nconfig = {{ path = \"-\" }}\n",
            fixture::quoted(postgres),
            server.port,
            fixture::quoted(file)
        );
        let path = dir.path().join("bench.toml");
        std::fs::write(&path, config).map_err(|e| e.to_string())?;
        let log = std::fs::File::create(dir.path().join("evhost.log")).map_err(|e| e.to_string())?;
        let mut child = Command::new(fixture::evhost_binary()?)
            .args(["run", "-c"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start evhost: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (send, arrivals) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let at = micros_now();
                let committed = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|e| e["time"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()))
                    .map_or(0, |t| t.timestamp_micros());
                if send.send((at, committed)).is_err() {
                    break;
                }
            }
        });
        let log = dir.path().join("evhost.log");
        let deadline = Instant::now() + WAIT;
        while !std::fs::read_to_string(&log).unwrap_or_default().contains("streaming slot") {
            if Instant::now() > deadline || child.try_wait().map_err(|e| e.to_string())?.is_some() {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let _ = child.kill();
                return Err(format!("the host did not start streaming; its log:\n{text}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Host { child, arrivals, _dir: dir })
    }

    fn take(&self, n: u64) -> Result<Vec<Arrival>> {
        (0..n)
            .map(|i| self.arrivals.recv_timeout(WAIT).map_err(|_| format!("only {i} of {n} events arrived")))
            .collect()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), nix::sys::signal::SIGTERM);
        let _ = self.child.wait();
    }
}

fn percentile(sorted: &[i64], p: f64) -> u64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].max(0) as u64
}

/// One run on a fresh table, slot and publication.
fn run(server: &Server, postgres: &Path, file: &Path, n: usize) -> Result<Figures> {
    let slot = format!("bench{n}");
    server.sql("DROP TABLE IF EXISTS bench; CREATE TABLE bench (id int PRIMARY KEY, v text)")?;
    let host = Host::spawn(server, postgres, file, &slot)?;

    server.sql(&format!("INSERT INTO bench SELECT g, 'row ' || g FROM generate_series(1, {BULK_ROWS}) g"))?;
    let bulk = host.take(BULK_ROWS)?;
    let committed = bulk[0].1;
    let last = bulk.iter().map(|a| a.0).max().unwrap_or(committed);
    let rows_per_sec = BULK_ROWS as f64 / ((last - committed).max(1) as f64 / 1e6);

    let script: String = (0..LATENCY_ROWS)
        .map(|i| format!("INSERT INTO bench VALUES ({}, 'x');\nSELECT pg_sleep(0.002);\n", BULK_ROWS + 1 + i))
        .collect();
    server.sql(&script)?;
    let mut latencies: Vec<i64> = host.take(LATENCY_ROWS)?.iter().map(|(at, committed)| at - committed).collect();
    latencies.sort_unstable();
    drop(host);
    server.sql(&format!("SELECT pg_drop_replication_slot('{slot}'); DROP PUBLICATION {slot}"))?;
    Ok(Figures { rows_per_sec, p50_us: percentile(&latencies, 0.5), p99_us: percentile(&latencies, 0.99) })
}

/// [`RUNS`] runs against one server; each run's figures.
pub fn postgres_to_consumer() -> Result<Vec<Figures>> {
    let (postgres, file) = (copy("libevh_postgres.so")?, copy("libevh_file.so")?);
    let server = Server::start()?;
    (1..=RUNS)
        .map(|n| {
            let figures = run(&server, &postgres, &file, n)?;
            eprintln!("postgres_to_consumer run {n}/{RUNS}: {figures:?}");
            Ok(figures)
        })
        .collect()
}

/// Prints the medians over the runs and writes them to target/bench/postgres.json.
pub fn report(runs: &[Figures]) -> Result<()> {
    let median = |pick: fn(&Figures) -> f64| crate::median(runs.iter().map(pick).collect());
    let rows = median(|f| f.rows_per_sec);
    let (p50, p99) = (median(|f| f.p50_us as f64), median(|f| f.p99_us as f64));
    println!("\npostgres_to_consumer ({} runs): {:.0} rows/s from a {BULK_ROWS}-row insert; commit to delivery p50 {p50:.0} us, p99 {p99:.0} us", runs.len(), rows);
    let json = serde_json::json!({"rows_per_sec": rows.round(), "bulk_rows": BULK_ROWS, "latency_us": {"p50": p50, "p99": p99}, "runs": runs.len()});
    let path = fixture::workspace().join("target/bench/postgres.json");
    std::fs::write(&path, format!("{json:#}\n")).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
