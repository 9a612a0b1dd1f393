//! What the scenarios share: where `make build` put the binary and the plugin libraries,
//! config files for them, and the check that every consumer saw every event.

use std::path::{Path, PathBuf};

/// A correctness failure or a broken setup: the benchmark stops and exits non-zero.
pub type Result<T> = std::result::Result<T, String>;

/// Consumers per scenario, as in the anchors.
pub const CONSUMERS: usize = 4;
/// Data bytes per event.
pub const PAYLOAD: u64 = 64;
/// Events per emit of the `sequence` producer.
pub const EMIT_BATCH: u64 = 256;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ sits in the workspace").to_path_buf()
}

/// Where the benchmark keeps its own copies of the libraries it loads.
fn libraries() -> PathBuf {
    workspace().join("target/bench/plugins")
}

/// The C benchmark fixtures (`ticker`, `latency`, `slow`, `commit_latency`; tests/fixtures/c).
const C_FIXTURES: &str = "libevh_fixture_c.so";

/// Copies the example libraries from target/plugins and the C fixtures from target/fixtures
/// into a folder of the benchmark's own. `make build` rewrites those in place (cp), and a
/// library rewritten under a running host kills it with SIGBUS; the copies stay put while
/// another build runs.
pub fn snapshot_libraries() -> Result<()> {
    let dir = libraries();
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let examples = ["c", "rust", "go"].map(|lang| ("target/plugins", format!("libevh_example_{lang}.so")));
    for (folder, name) in examples.into_iter().chain([("target/fixtures", C_FIXTURES.to_string())]) {
        let from = workspace().join(folder).join(&name);
        if !from.exists() {
            return Err(format!("{} is missing; run `make bench`, which builds it", from.display()));
        }
        let to = dir.join(&name);
        // A new file, not an overwrite: a process still mapping the old one keeps it intact.
        let _ = std::fs::remove_file(&to);
        std::fs::copy(&from, &to).map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))?;
    }
    Ok(())
}

/// The benchmark's copy of an example library: `lang` is c, rust or go.
pub fn library(lang: &str) -> Result<PathBuf> {
    copy_of(&format!("libevh_example_{lang}.so"))
}

/// The benchmark's copy of the C fixture library.
pub fn c_fixtures() -> Result<PathBuf> {
    copy_of(C_FIXTURES)
}

fn copy_of(name: &str) -> Result<PathBuf> {
    let path = libraries().join(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!("{} is missing; the benchmark copies it from target/ at its start", path.display()))
    }
}

/// The product binary, as `make build` made it. `make bench` copies it to target/bench/
/// before `cargo bench`, which rebuilds target/release/evhost with the feature `bench`.
pub fn evhost_binary() -> Result<PathBuf> {
    let path = workspace().join("target/bench/evhost");
    if path.exists() {
        Ok(path)
    } else {
        Err(format!("{} is missing; run `make bench`, which builds it and copies it there", path.display()))
    }
}

/// A path as a TOML string literal.
pub fn quoted(path: &Path) -> String {
    toml::Value::String(path.display().to_string()).to_string()
}

/// Which log a scenario runs on: the memory log, or the disk log with one of its fsync
/// policies, its folder in the run's own temporary folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Memory,
    /// `fsync = "commit"`, the default: committed once fsynced, one fsync per group commit.
    Disk,
    /// `fsync = "interval"`, every 100 ms: committed once written.
    DiskInterval,
}

impl LogKind {
    /// The `[log]` table for a run in `dir`; empty for the memory log, the default.
    fn table(self, dir: &Path) -> String {
        let path = quoted(&dir.join("evlog"));
        match self {
            LogKind::Memory => String::new(),
            LogKind::Disk => format!("[log]\nkind = \"disk\"\npath = {path}\n\n"),
            LogKind::DiskInterval => {
                format!("[log]\nkind = \"disk\"\npath = {path}\nfsync = \"interval\"\nfsync_interval = \"100ms\"\n\n")
            }
        }
    }
}

/// A config file, written table by table.
#[derive(Default)]
pub struct Config(String);

impl Config {
    /// `[log] capacity` in events.
    pub fn log_capacity(mut self, events: usize) -> Self {
        self.0 += &format!("[log]\ncapacity = {events}\n\n");
        self
    }

    /// The `[log]` table of `log`, for a run in `dir`.
    pub fn log(mut self, log: LogKind, dir: &Path) -> Self {
        self.0 += &log.table(dir);
        self
    }

    /// A `[[producer]]` or `[[consumer]]`; `config` is the inside of the inline table and
    /// `extra` more keys of the entry (each `key = value` on its own line).
    pub fn plugin(mut self, role: &str, name: &str, library: &Path, plugin: &str, config: &str, extra: &str) -> Self {
        let library = quoted(library);
        self.0 += &format!("[[{role}]]\nname = \"{name}\"\nlibrary = {library}\nplugin = \"{plugin}\"\nconfig = {{ {config} }}\n{extra}\n");
        self
    }

    /// `count` consumers of `library` named `count<i>` for each `i` in `numbers`, each
    /// writing its totals to `count<i>.json` in `dir`; also returns those files.
    pub fn counts(self, dir: &Path, library: &Path, numbers: std::ops::Range<usize>) -> (Self, Vec<PathBuf>) {
        self.counts_with(dir, library, numbers, "")
    }

    /// [`counts`](Self::counts), each consumer with the entry keys `extra` too (such as
    /// `isolate = true`).
    pub fn counts_with(
        mut self,
        dir: &Path,
        library: &Path,
        numbers: std::ops::Range<usize>,
        extra: &str,
    ) -> (Self, Vec<PathBuf>) {
        let mut files = Vec::new();
        for i in numbers {
            let file = dir.join(format!("count{i}.json"));
            let config = format!("path = {}", quoted(&file));
            self = self.plugin("consumer", &format!("count{i}"), library, "count", &config, extra);
            files.push(file);
        }
        (self, files)
    }

    pub fn text(&self) -> &str {
        &self.0
    }
}

/// The `sequence` producer's config for `events` events of [`PAYLOAD`] bytes.
pub fn sequence(events: u64) -> String {
    format!("count = {events}, payload_bytes = {PAYLOAD}, batch = {EMIT_BATCH}")
}

/// The standard fan-out on `log`: one `sequence` producer from `producer_lib` into
/// [`CONSUMERS`] `count` consumers from `consumer_lib`, each writing its totals into `dir`.
pub fn fan_out(
    dir: &Path,
    log: LogKind,
    producer_lib: &Path,
    consumer_lib: &Path,
    events: u64,
) -> (Config, Vec<PathBuf>) {
    fan_out_with(dir, log, producer_lib, &sequence(events), consumer_lib)
}

/// [`fan_out`] with the producer's config written out, e.g. with `claim = true`.
pub fn fan_out_with(
    dir: &Path,
    log: LogKind,
    producer_lib: &Path,
    producer_config: &str,
    consumer_lib: &Path,
) -> (Config, Vec<PathBuf>) {
    Config::default()
        .log(log, dir)
        .plugin("producer", "sequence", producer_lib, "sequence", producer_config, "")
        .counts(dir, consumer_lib, 0..CONSUMERS)
}

/// Reads one consumer's output file as a JSON object.
pub fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e} (the consumer wrote no totals)", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON ({e}): {text:?}", path.display()))
}

pub fn field(json: &serde_json::Value, path: &Path, key: &str) -> Result<u64> {
    json[key].as_u64().ok_or_else(|| format!("{} has no number \"{key}\": {json}", path.display()))
}

/// Checks that each file says `{"count": events, "bytes": events * bytes_per_event}`.
pub fn verify_counts(files: &[PathBuf], events: u64, bytes_per_event: u64) -> Result<()> {
    for path in files {
        let json = read_json(path)?;
        let (count, bytes) = (field(&json, path, "count")?, field(&json, path, "bytes")?);
        if count != events || bytes != events * bytes_per_event {
            return Err(format!(
                "a consumer missed events: {} says count {count}, bytes {bytes}; expected count {events}, bytes {}",
                path.display(),
                events * bytes_per_event
            ));
        }
    }
    Ok(())
}

/// A fresh folder for one run's config and output files.
pub fn run_dir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("evhost-bench-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary folder: {e}"))
}
