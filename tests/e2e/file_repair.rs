//! The `file` consumer after a crash: a torn last line (the host killed mid-write) is cut
//! when the file is opened again, with a WARN naming the file and the bytes cut, so that
//! every line of the file is a whole CloudEvent.

use nix::sys::signal::Signal;
use serde_json::{json, Value};

use crate::config::Config;
use crate::support::{eventually, json_lines, Env, C, SETTLE_LIMIT};

const FILE: &str = "libevh_file.so";

/// The C sequence (`count` events of 8 bytes) into `file` as "out", appending to
/// events.jsonl with an fsync per batch.
fn sequence_into_file(count: u64) -> Config {
    Config::sequence(C, json!({ "count": count, "payload_bytes": 8 }))
        .consumer("out", FILE)
        .config(json!({ "path": "events.jsonl", "fsync": "batch" }))
}

/// The file's lines, each parsed as JSON (panics naming the first that is not).
fn events(env: &Env) -> Vec<Value> {
    env.json_lines("events.jsonl")
}

/// The stderr lines that report a cut.
fn cuts(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|line| line.contains("torn last line")).collect()
}

#[test]
fn a_torn_last_line_is_cut_with_a_warning_and_the_old_lines_kept() {
    let env = Env::with(&sequence_into_file(10));
    let old = "{\"id\":\"a\",\"source\":\"/old\"}\n{\"id\":\"b\",\"source\":\"/old\"}\n";
    env.write("events.jsonl", &format!("{old}{{\"id\":\"x\",\"sou"));
    let out = env.run();
    out.expect_code(0);
    let cuts = cuts(&out.stderr);
    assert_eq!(cuts.len(), 1, "one cut reported; stderr:\n{}", out.stderr);
    assert!(cuts[0].contains("WARN"), "{}", cuts[0]);
    assert!(cuts[0].contains(&env.path("events.jsonl").display().to_string()), "names the file: {}", cuts[0]);
    assert!(cuts[0].contains("cut 14 bytes"), "says how much: {}", cuts[0]);
    let text = std::fs::read_to_string(env.path("events.jsonl")).unwrap();
    assert!(text.starts_with(old), "the whole lines stay as they were:\n{text}");
    let events = events(&env);
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().expect("an id")).collect();
    let new: Vec<String> = (0..10).map(|k| k.to_string()).collect();
    assert_eq!(ids[..2], ["a", "b"]);
    assert_eq!(ids[2..], new.iter().map(String::as_str).collect::<Vec<_>>()[..]);
}

#[test]
fn after_kill_9_mid_write_a_restart_leaves_only_whole_lines() {
    let env = Env::with(&sequence_into_file(200_000));
    let running = env.spawn();
    eventually(SETTLE_LIMIT, "the first thousand lines", || env.lines_so_far("events.jsonl") >= 1000);
    running.signal(Signal::SIGKILL);
    let killed = running.wait();
    assert_eq!(killed.status.code(), None, "killed by a signal: {}", killed.stderr);
    let after_kill = std::fs::read(env.path("events.jsonl")).unwrap();
    let torn = after_kill.last() != Some(&b'\n');
    let whole = after_kill.iter().filter(|&&b| b == b'\n').count();
    println!("killed with {whole} whole lines written; torn last line: {torn}");

    env.write_config(&sequence_into_file(10));
    let out = env.run();
    out.expect_code(0);
    // A SIGKILL seldom lands inside a write(2), so the file may end whole: a cut is reported
    // exactly when there was one (the test above makes one for certain).
    assert_eq!(cuts(&out.stderr).len(), usize::from(torn), "stderr:\n{}", out.stderr);
    let text = std::fs::read_to_string(env.path("events.jsonl")).unwrap();
    assert!(text.ends_with('\n'));
    let events = json_lines(&text);
    assert_eq!(events.len(), whole + 10, "the whole lines from before the kill, and the 10 new ones");
    assert!(events.iter().all(|e| e["specversion"] == "1.0" && e["id"].is_string()), "whole CloudEvents");
    let tail: Vec<&str> = events[whole..].iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(tail, (0..10).map(|k| k.to_string()).collect::<Vec<_>>());
}
