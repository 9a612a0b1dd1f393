//! Shared helpers: where the binary and the libraries are, a private working folder per
//! test with its `evhost.toml`, runs of the real binary with a time limit, the
//! `[ROOT]`/`[TMP]` redaction that keeps snapshots stable across machines, free ports,
//! JSON Lines, and waiting for a condition instead of sleeping.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::config::Config;

/// Every run gets this long; a hang fails the test instead of stalling the suite.
pub const RUN_LIMIT: Duration = Duration::from_secs(20);

/// The repository root, canonical.
pub fn root() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).canonicalize().expect("the repository root exists")
}

/// The absolute path of a library `make build` made: a fixture (`libevh_fixture_*`) in
/// target/fixtures, any other in target/plugins.
pub fn plugin(file: &str) -> PathBuf {
    let folder = if file.starts_with("libevh_fixture_") { "target/fixtures" } else { "target/plugins" };
    let path = root().join(folder).join(file);
    assert!(path.is_file(), "{} is missing: run `make build` first", path.display());
    path
}

pub const C: &str = "libevh_example_c.so";
pub const CPP: &str = "libevh_example_cpp.so";
pub const RUST: &str = "libevh_example_rust.so";
pub const GO: &str = "libevh_example_go.so";
/// The Rust fixture library: `faulty`, a consumer that panics, fails or retries on purpose.
pub const RUST_FIXTURES: &str = "libevh_fixture_rust.so";
/// The Go fixture library: `panicky`, `ids`. A Go runtime per process: never beside [`GO`]
/// in one process (one of the two isolated is fine).
pub const GO_FIXTURES: &str = "libevh_fixture_go.so";

/// What a finished run left behind.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("evhost died by a signal: {:?}\nstderr:\n{}", self.status, self.stderr))
    }

    /// Asserts the exit code, showing both streams when it differs.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code(), code, "unexpected exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

/// A test's working folder, removed when the test ends.
pub struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Env { dir: tempfile::tempdir().expect("a temporary folder") }
    }

    /// A new folder whose `evhost.toml` is `config`.
    pub fn with(config: &Config) -> Self {
        let env = Env::new();
        env.write_config(config);
        env
    }

    /// Writes `config` to `evhost.toml`.
    pub fn write_config(&self, config: &Config) {
        self.write("evhost.toml", &config.to_toml());
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir().join(relative)
    }

    /// Writes `evhost.toml`. `{C}`, `{CPP}`, `{RUST}`, `{GO}`, `{RUST_FIXTURES}` and
    /// `{GO_FIXTURES}` stand for the absolute paths of those libraries (checked to exist).
    pub fn config(&self, toml: &str) -> &Self {
        let mut text = toml.to_string();
        let libraries = [
            ("{C}", C),
            ("{CPP}", CPP),
            ("{RUST}", RUST),
            ("{GO}", GO),
            ("{RUST_FIXTURES}", RUST_FIXTURES),
            ("{GO_FIXTURES}", GO_FIXTURES),
        ];
        for (key, file) in libraries {
            if text.contains(key) {
                text = text.replace(key, &plugin(file).display().to_string());
            }
        }
        self.write("evhost.toml", &text);
        self
    }

    pub fn write(&self, relative: &str, text: &str) {
        std::fs::write(self.path(relative), text).expect("write a file in the test folder");
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_evhost"));
        command.args(args);
        self.prepare(command)
    }

    /// `command` run in this folder with the suite's environment and piped output.
    fn prepare(&self, mut command: Command) -> Command {
        command.current_dir(self.dir()).env_remove("EVHOST_LOG").env("NO_COLOR", "1");
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        command
    }

    /// Runs `evhost ARGS` in this folder to the end.
    pub fn evhost(&self, args: &[&str]) -> Output {
        Running::start(self.command(args)).wait()
    }

    /// `evhost run -c evhost.toml`.
    pub fn run(&self) -> Output {
        self.evhost(&["run", "-c", "evhost.toml"])
    }

    /// Starts `evhost run -c evhost.toml` and returns while it runs.
    pub fn spawn(&self) -> Running {
        Running::start(self.command(&["run", "-c", "evhost.toml"]))
    }

    /// Starts `evhost run -c evhost.toml` with its address space capped at `kib` KiB
    /// (`ulimit -v`, then `exec`, so the pid is the host's and a signal reaches it).
    pub fn spawn_capped(&self, kib: u64) -> Running {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_evhost"))
            .args(["run", "-c", "evhost.toml"]);
        Running::start(self.prepare(command))
    }

    /// Starts `evhost ARGS` in this folder and returns while it runs.
    pub fn start(&self, args: &[&str]) -> Running {
        Running::start(self.command(args))
    }

    /// As [`Env::start`], with `vars` added to the environment.
    pub fn start_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Running {
        let mut command = self.command(args);
        command.envs(vars.iter().copied());
        Running::start(command)
    }

    /// Reads a one-line JSON result file a consumer wrote.
    pub fn json(&self, relative: &str) -> serde_json::Value {
        let path = self.path(relative);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON ({e}): {text:?}", path.display()))
    }

    /// Reads a JSON Lines file (a dead-letter file, the `file` consumer's output).
    pub fn json_lines(&self, relative: &str) -> Vec<serde_json::Value> {
        let path = self.path(relative);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        json_lines(&text)
    }

    /// How many whole lines a consumer has written to `relative` so far (0 before the file
    /// exists): what a test polls while the host runs.
    pub fn lines_so_far(&self, relative: &str) -> usize {
        std::fs::read(self.path(relative)).map(|bytes| bytes.iter().filter(|&&b| b == b'\n').count()).unwrap_or(0)
    }

    /// Runs `evhost ARGS`, which must fail with exit code 2 (a usage, config or load error).
    pub fn fails(&self, args: &[&str]) -> Output {
        let out = self.evhost(args);
        out.expect_code(2);
        out
    }

    /// `evhost check -c evhost.toml` fails with exit code 2; its stderr, redacted.
    pub fn check_fails(&self) -> String {
        self.redact(&self.fails(&["check", "-c", "evhost.toml"]).stderr)
    }

    /// `text` with the repository as `[ROOT]` and this folder as `[TMP]`.
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        let mut tmp = vec![self.dir().to_path_buf()];
        if let Ok(canonical) = self.dir().canonicalize() {
            tmp.push(canonical);
        }
        for dir in tmp {
            text = text.replace(&dir.display().to_string(), "[TMP]");
        }
        let raw_root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        text.replace(&root().display().to_string(), "[ROOT]").replace(raw_root, "[ROOT]")
    }

    /// Compiles `source` into `[TMP]/<file>` as a shared library against include/evhost.h.
    pub fn compile_library(&self, file: &str, source: &str) -> PathBuf {
        let src = self.path(&format!("{file}.c"));
        std::fs::write(&src, source).expect("write the C source");
        let out = self.path(file);
        let include = root().join("include");
        let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
            .args(["-shared", "-fPIC", "-std=c11", "-o"])
            .arg(&out)
            .arg("-I")
            .arg(&include)
            .arg(&src)
            .status()
            .expect("a C compiler (cc) to build test fixtures");
        assert!(status.success(), "compiling the {file} fixture failed");
        out
    }
}

/// A running `evhost`, its stderr read line by line as it comes.
pub struct Running {
    child: Child,
    started: Instant,
    lines: mpsc::Receiver<String>,
    stderr: Vec<String>,
    /// Taken by `wait`.
    stdout: Option<std::thread::JoinHandle<String>>,
}

impl Running {
    fn start(mut command: Command) -> Running {
        let started = Instant::now();
        let mut child = command.spawn().expect("start evhost");
        let (send, lines) = mpsc::channel();
        let err = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut out = child.stdout.take().expect("piped stdout");
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            text
        });
        Running { child, started, lines, stderr: Vec::new(), stdout: Some(stdout) }
    }

    pub fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.child.id() as i32)
    }

    /// Waits until a stderr line contains `needle` and returns it; panics after the run limit,
    /// or when the process ends first.
    pub fn wait_for_line(&mut self, needle: &str) -> String {
        match self.wait_for_line_or_exit(needle) {
            Some(line) => line,
            None => panic!("evhost ended without logging {needle:?}; stderr:\n{}", self.stderr.join("\n")),
        }
    }

    /// Waits until a stderr line contains `needle` and returns it, or None when the process
    /// ends (closes stderr) first: for a run that may be refused at startup. Panics after the
    /// run limit.
    pub fn wait_for_line_or_exit(&mut self, needle: &str) -> Option<String> {
        let deadline = self.started + RUN_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.stderr.push(line.clone());
                    if found {
                        return Some(line);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return None,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!("evhost never logged {needle:?}; stderr so far:\n{}", self.stderr.join("\n"));
                }
            }
        }
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(self.pid(), signal).expect("signal evhost");
    }

    /// Waits for the exit (killing it after the run limit) and collects its output.
    pub fn wait(self) -> Output {
        self.wait_within(RUN_LIMIT)
    }

    /// As [`Running::wait`], for a host a test keeps running longer than [`RUN_LIMIT`]:
    /// killed once `limit` has passed since it started.
    pub fn wait_within(mut self, limit: Duration) -> Output {
        let deadline = self.started + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for evhost") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.stderr.push(line);
                }
                panic!("evhost did not exit within {limit:?}; stderr:\n{}", self.stderr.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        // The reader thread ends at EOF, once the process and its children closed stderr.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.stderr.push(line);
        }
        let stdout = self.stdout.take().expect("wait is called once").join().expect("the stdout reader");
        let mut stderr = self.stderr.join("\n");
        if !stderr.is_empty() {
            stderr.push('\n');
        }
        Output { status, stdout, stderr }
    }
}

/// A host still running when its test panicked is killed, not left behind to talk to the
/// next test's servers.
impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The values of the JSON Lines in `text`.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))).collect()
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind a free port").local_addr().expect("its address").port()
}

/// Long enough for a change to pass inotify, a plugin, the host and a consumer on a busy
/// machine; a test that waits this long has failed.
pub const SETTLE_LIMIT: Duration = Duration::from_secs(10);

/// Polls `condition` until it holds; panics naming `what` once `within` has passed.
pub fn eventually(within: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "waited {within:?} for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The fields of a tracing line `... message key=value key=value` as (key, value) pairs.
pub fn log_fields(line: &str) -> Vec<(String, String)> {
    line.split_whitespace().filter_map(|w| w.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The counter `key` of the "consumer drained" line for consumer `name`.
pub fn drained(stderr: &str, name: &str, key: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.contains("consumer drained") && log_fields(l).iter().any(|(k, v)| k == "consumer" && v == name))
        .unwrap_or_else(|| panic!("no \"consumer drained\" line for {name}; stderr:\n{stderr}"));
    let value =
        log_fields(line).into_iter().find(|(k, _)| k == key).unwrap_or_else(|| panic!("no {key}= in {line:?}")).1;
    value.parse().unwrap_or_else(|_| panic!("{key}={value} is not a number in {line:?}"))
}
