//! What the isolation tests share: the fault library (tests/fixtures/c/faults.c, compiled
//! into each test's folder), config for it, and readers of what it leaves behind: the ids a
//! consumer got, the pids of the processes an instance ran in, the digest the example
//! `sequence` must give, and the host's children as /proc shows them.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::{json, Value};

use crate::config::Config;
use crate::support::{Env, Output, Running};

/// The fault library's file name in a test's folder.
pub const FAULTS: &str = "libfaults.so";

/// Compiles tests/fixtures/c/faults.c into `libfaults.so` in `env`'s folder.
pub fn faults(env: &Env) {
    env.compile_library(FAULTS, include_str!("../fixtures/c/faults.c"));
}

/// `isolate = true` and a `restart` table on the latest entry.
pub trait Isolate {
    fn isolated(self, attempts: u32, backoff: &str) -> Self;
}

impl Isolate for Config {
    fn isolated(self, attempts: u32, backoff: &str) -> Self {
        self.set("isolate", true).set("restart", json!({ "attempts": attempts, "backoff": backoff }))
    }
}

/// The fault library's `ids` consumer as `name`, writing `<name>.ids` and `<name>.pids`,
/// with `extra` config keys (`fault`, `at`, `once`).
pub fn ids_consumer(config: Config, name: &str, extra: Value) -> Config {
    let mut keys = json!({ "ids": format!("{name}.ids"), "pids": format!("{name}.pids") });
    if let (Value::Object(keys), Value::Object(extra)) = (&mut keys, extra) {
        keys.extend(extra);
    }
    config.consumer(name, FAULTS).plugin("ids").config(keys)
}

/// The fault library's `emitter` as `name`, writing `<name>.committed` and `<name>.pids`.
pub fn emitter(config: Config, name: &str, extra: Value) -> Config {
    let mut keys = json!({ "committed": format!("{name}.committed"), "pids": format!("{name}.pids") });
    if let (Value::Object(keys), Value::Object(extra)) = (&mut keys, extra) {
        keys.extend(extra);
    }
    config.producer(name, FAULTS).plugin("emitter").config(keys)
}

/// A producer that emits nothing and runs until the host stops it: the host then runs until
/// a test signals it.
pub fn idle_producer(config: Config) -> Config {
    emitter(config, "idle", json!({ "count": 0, "idle": true }))
}

/// The lines of a file a fixture appends to; none before it exists.
pub fn lines(env: &Env, file: &str) -> Vec<String> {
    std::fs::read_to_string(env.path(file)).map(|text| text.lines().map(str::to_string).collect()).unwrap_or_default()
}

/// The process ids an instance recorded, one per `on_create`.
pub fn pids(env: &Env, name: &str) -> Vec<i32> {
    lines(env, &format!("{name}.pids")).iter().map(|line| line.parse().expect("a pid per line")).collect()
}

/// How often each id appears in `<name>.ids`.
pub fn id_counts(env: &Env, name: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for id in lines(env, &format!("{name}.ids")) {
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

/// Asserts that `name` got each of the ids `0..count` at least once and nothing else; returns
/// how many it got in all (duplicates included).
pub fn got_every_sequence_event(env: &Env, name: &str, count: u64) -> usize {
    let counts = id_counts(env, name);
    let missing: Vec<u64> = (0..count).filter(|k| !counts.contains_key(&k.to_string())).collect();
    assert!(
        missing.is_empty(),
        "{name} never got {} events, the first {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert_eq!(counts.len() as u64, count, "{name} got ids the sequence never emitted");
    counts.values().sum()
}

/// Asserts that the dead-letter file `file` holds the events with ids "0".."count-1", each
/// once, in order: every event a failed consumer did not get.
pub fn dead_letters_are_every_id(env: &Env, file: &str, count: u64) {
    let dead: Vec<String> =
        env.json_lines(file).iter().map(|event| event["id"].as_str().expect("an id").to_string()).collect();
    let expected: Vec<String> = (0..count).map(|k| k.to_string()).collect();
    assert_eq!(dead, expected, "every event it did not get is in its dead-letter file, once, in order");
}

/// Asserts that `name`'s on_create ran `times` times, each in a process of its own other
/// than the host's: the instance was isolated, and restarted `times - 1` times.
pub fn ran_in_workers(env: &Env, name: &str, times: usize, host: i32) -> Vec<i32> {
    let pids = pids(env, name);
    assert_eq!(pids.len(), times, "{name} was created {} times, expected {times}: {pids:?}", pids.len());
    assert!(!pids.contains(&host), "{name} ran in the host's process ({host}): it was not isolated");
    assert_eq!(pids.iter().collect::<BTreeSet<_>>().len(), times, "every worker is a new process: {pids:?}");
    pids
}

/// The digest the example `digest` consumers must report for the example `sequence` of
/// `count` events with `payload_bytes` bytes each, computed here from the two plugins'
/// definitions (plugins/examples/c/README.md) rather than by either of them: FNV-1a 64 over
/// id, 0x1F, type, 0x1F, data, 0x1E per event, where event k has id k and data byte i is
/// (k + i) mod 256.
pub fn sequence_digest(count: u64, payload_bytes: u64) -> String {
    const PRIME: u64 = 0x100000001b3;
    let mut hash: u64 = 0xcbf29ce484222325;
    let mut fold = |bytes: &[u8]| {
        for b in bytes {
            hash = (hash ^ u64::from(*b)).wrapping_mul(PRIME);
        }
    };
    for k in 0..count {
        fold(k.to_string().as_bytes());
        fold(&[0x1F]);
        fold(b"dev.evhost.example.sequence");
        fold(&[0x1F]);
        let data: Vec<u8> = (0..payload_bytes).map(|i| ((k + i) % 256) as u8).collect();
        fold(&data);
        fold(&[0x1E]);
    }
    format!("{hash:016x}")
}

/// Asserts that the digest file `file` holds every event of the sequence, in order.
pub fn digest_is_exact(env: &Env, file: &str, count: u64, payload_bytes: u64) {
    assert_eq!(
        env.json(file),
        json!({ "count": count, "digest": sequence_digest(count, payload_bytes), "in_order": true }),
        "{file}"
    );
}

/// The stderr lines that contain every one of `needles`.
pub fn lines_with_all<'a>(stderr: &'a str, needles: &[&str]) -> Vec<&'a str> {
    stderr.lines().filter(|line| needles.iter().all(|needle| line.contains(needle))).collect()
}

/// `text` with each of `pids` as `[PID]`, for snapshots of messages that name a worker.
pub fn redact_pids(text: &str, pids: &[i32]) -> String {
    let mut sorted: Vec<String> = pids.iter().map(i32::to_string).collect();
    // Longest first, so that a pid that is a prefix of another does not cut it.
    sorted.sort_by_key(|pid| std::cmp::Reverse(pid.len()));
    sorted.iter().fold(text.to_string(), |text, pid| text.replace(pid.as_str(), "[PID]"))
}

/// `text` with the jittered wait of "restarting it in 95ms" as "[BACKOFF]".
pub fn redact_backoff(text: &str) -> String {
    const BEFORE: &str = "restarting it in ";
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(BEFORE) {
        out.push_str(&rest[..at + BEFORE.len()]);
        rest = &rest[at + BEFORE.len()..];
        let end = rest.find(' ').unwrap_or(rest.len());
        out.push_str("[BACKOFF]");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Runs `env`'s config to its end and returns the output and the host's pid.
pub fn run(env: &Env) -> (Output, i32) {
    let running = env.spawn();
    let pid = running.pid().as_raw();
    (running.wait(), pid)
}

/// SIGTERM to `running`; its output and how long it took to exit.
pub fn terminate(running: Running) -> (Output, Duration) {
    running.signal(Signal::SIGTERM);
    let signalled = Instant::now();
    let out = running.wait();
    (out, signalled.elapsed())
}

/// A process as /proc/<pid>/stat shows it: its parent and its start time (clock ticks after
/// boot), which tells it from a later process given the same pid.
#[derive(Debug, PartialEq)]
pub struct Process {
    pub pid: i32,
    pub ppid: i32,
    pub start: u64,
}

impl Process {
    /// None once the process is gone (or is a zombie: dead, waiting to be reaped).
    pub fn of(pid: i32) -> Option<Process> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The name, in parentheses, may hold spaces and parentheses: fields follow the last ')'.
        let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
        if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
            return None;
        }
        Some(Process { pid, ppid: fields[1].parse().ok()?, start: fields[19].parse().ok()? })
    }
}

/// Whether `process` still runs: the same pid with the same start time, not a zombie.
pub fn alive(process: &Process) -> bool {
    Process::of(process.pid).is_some_and(|now| now.start == process.start)
}

/// The live children of `parent`.
pub fn children(parent: i32) -> Vec<Process> {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(Process::of)
        .filter(|process| process.ppid == parent)
        .collect()
}

/// Whether `pid` has a file whose name ends with `library` mapped: it loaded that library.
pub fn loaded(pid: i32, library: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/maps")).is_ok_and(|maps| maps.lines().any(|l| l.ends_with(library)))
}

#[test]
fn the_independent_digest_matches_the_known_vectors() {
    // The values plugins/examples/c/README.md lists, so the function above is checked too.
    assert_eq!(sequence_digest(0, 64), "cbf29ce484222325");
    assert_eq!(sequence_digest(1000, 64), "00fcfcd9c9dd86e5");
    assert_eq!(sequence_digest(1000, 100), "d1f8fc150e51488d");
}
