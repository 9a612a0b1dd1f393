//! `nats_roundtrip`: events from one host through NATS JetStream into another, per second.
//! Host A: the C `sequence` (64-byte events) into `nats-publish`; host B: `nats-subscribe`
//! into the `file` consumer. Timed from A's spawn until B's file holds every event; the run
//! fails unless it holds each exactly once. The server is started like `make services`
//! starts it (tests/services/nats.sh: JetStream, `sync_interval: always`), with its data on
//! tmpfs (/dev/shm) when there is one, so the figure is evhost's and the network's, not
//! the disk's fsync rate (about 1000 messages/s on a disk that takes 1 ms per fsync).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::fixture::{self, quoted, Config, Result};

/// Events per run.
pub const EVENTS: u64 = 200_000;
/// A run that takes longer has failed.
const LIMIT: Duration = Duration::from_secs(120);

/// The server of one run, stopped when dropped.
struct Server {
    port: u16,
    dir: tempfile::TempDir,
}

fn script(args: &[&str]) -> Result<()> {
    let path = fixture::workspace().join("tests/services/nats.sh");
    let out = Command::new("sh").arg(&path).args(args).output().map_err(|e| format!("cannot run sh: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "`{} {}` failed:\n{}{}",
        path.display(),
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

impl Server {
    fn start() -> Result<Server> {
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() };
        let dir = dir.map_err(|e| format!("cannot create a temporary folder: {e}"))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        script(&["start", &port.to_string(), &dir.path().display().to_string()])?;
        Ok(Server { port, dir })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = script(&["stop", &self.dir.path().display().to_string()]);
    }
}

/// The benchmark's own copy of libevh_nats.so and libevh_file.so (see
/// `fixture::snapshot_libraries` for why a copy).
fn library(name: &str) -> Result<PathBuf> {
    let from = fixture::workspace().join("target/plugins").join(name);
    let to = fixture::workspace().join("target/bench/plugins").join(name);
    let _ = std::fs::remove_file(&to);
    std::fs::copy(&from, &to)
        .map_err(|e| format!("cannot copy {} (run `make bench`, which builds it): {e}", from.display()))?;
    Ok(to)
}

fn spawn(dir: &Path, name: &str, config: &Config) -> Result<Child> {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, config.text()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).map_err(|e| e.to_string())?;
    Command::new(fixture::evhost_binary()?)
        .args(["run", "-c"])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start evhost: {e}"))
}

/// Installs nats-server when missing, once, before the runs.
pub fn install() -> Result<()> {
    script(&["install"])
}

/// One run: events per second from A's spawn until B wrote every event.
pub fn roundtrip() -> Result<f64> {
    let server = Server::start()?;
    let dir = fixture::run_dir()?;
    let (nats, file) = (library("libevh_nats.so")?, library("libevh_file.so")?);
    let url = format!("url = \"nats://127.0.0.1:{}\", stream = \"BENCH\"", server.port);
    let out = dir.path().join("b.jsonl");
    let b = Config::default()
        .plugin(
            "producer",
            "in",
            &nats,
            "nats-subscribe",
            &format!("{url}, durable = \"b\", create_stream = true, subjects = [\"events.>\"]"),
            "",
        )
        .plugin("consumer", "out", &file, "file", &format!("path = {}", quoted(&out)), "");
    let mut host_b = spawn(dir.path(), "b", &b)?;
    let a = Config::default()
        .plugin("producer", "sequence", &fixture::library("c")?, "sequence", &fixture::sequence(EVENTS), "")
        .plugin("consumer", "publish", &nats, "nats-publish", &url, "");
    // B creates the stream, which A checks for at its start.
    let log_b = dir.path().join("b.log");
    let ready = Instant::now();
    while !std::fs::read_to_string(&log_b).unwrap_or_default().contains("evhost is running") {
        if ready.elapsed() > Duration::from_secs(10) || host_b.try_wait().map_err(|e| e.to_string())?.is_some() {
            return Err(format!(
                "host B did not start; its log:\n{}",
                std::fs::read_to_string(&log_b).unwrap_or_default()
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let start = Instant::now();
    let mut host_a = spawn(dir.path(), "a", &a)?;
    let lines = wait_for_lines(&out, EVENTS, start)?;
    let elapsed = start.elapsed();
    let a_status = host_a.wait().map_err(|e| e.to_string())?;
    kill(Pid::from_raw(host_b.id() as i32), Signal::SIGTERM).map_err(|e| e.to_string())?;
    let b_status = host_b.wait().map_err(|e| e.to_string())?;
    if !a_status.success() || !b_status.success() || lines != EVENTS {
        let log = |name: &str| std::fs::read_to_string(dir.path().join(format!("{name}.log"))).unwrap_or_default();
        return Err(format!(
            "A exited {a_status}, B {b_status}, B wrote {lines} of {EVENTS} events\nA:\n{}\nB:\n{}",
            log("a"),
            log("b")
        ));
    }
    Ok(EVENTS as f64 / elapsed.as_secs_f64())
}

/// Counts the lines of `path` as they are written until there are `events`.
fn wait_for_lines(path: &Path, events: u64, start: Instant) -> Result<u64> {
    let mut lines = 0;
    let mut file = None;
    let mut buffer = vec![0; 1 << 20];
    while lines < events {
        if start.elapsed() > LIMIT {
            return Err(format!("only {lines} of {events} events arrived within {LIMIT:?}"));
        }
        if file.is_none() {
            file = std::fs::File::open(path).ok();
        }
        let read = match file.as_mut() {
            Some(f) => f.read(&mut buffer).map_err(|e| e.to_string())?,
            None => 0,
        };
        if read == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
        lines += buffer[..read].iter().filter(|&&b| b == b'\n').count() as u64;
    }
    Ok(lines)
}
