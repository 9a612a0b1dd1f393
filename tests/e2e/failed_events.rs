//! Events a consumer fails are counted where they went: `dead_lettered` when its
//! dead-letter file took them, `failed` ("not delivered, kept nowhere") when it has none;
//! in the admin metrics and in the "consumer drained" line alike.

use nix::sys::signal::Signal;
use serde_json::json;

use crate::admin::get;
use crate::config::Config;
use crate::fixture::misbehaving_consumer;
use crate::support::{drained, eventually, free_port, Env, C, SETTLE_LIMIT};

const EVENTS: u64 = 500;

/// The value of the sample `name{instance="faulty",...}` in the admin metrics.
fn faulty_sample(port: u16, name: &str) -> Option<u64> {
    let (code, text) = get(port, "/metrics", None);
    assert_eq!(code, 200, "{text}");
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains("instance=\"faulty\""))
        .find_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse().ok()))
}

/// Runs the sequence into a consumer that fails every batch, with `dead_letter` if given;
/// returns its (dead_lettered, failed) as the metrics show them once every event failed,
/// and as the "consumer drained" line has them.
fn failing_run(dead_letter: Option<&str>) -> ((u64, u64), (u64, u64), Env) {
    let env = Env::new();
    let fixture = misbehaving_consumer(&env, "return EVH_FAIL;").display().to_string();
    let port = free_port();
    let mut config = Config::new()
        .table("admin", json!({ "listen": format!("127.0.0.1:{port}") }))
        .producer("seq", C)
        .plugin("sequence")
        .config(json!({ "count": EVENTS, "payload_bytes": 16 }))
        .producer("idle", &fixture)
        .plugin("idle")
        .consumer("faulty", &fixture)
        .plugin("fixture");
    if let Some(path) = dead_letter {
        config = config.set("dead_letter", path);
    }
    env.write_config(&config);
    let mut running = env.spawn();
    running.wait_for_line("evhost is running");
    let total = || {
        faulty_sample(port, "evhost_dead_lettered_events_total").unwrap_or(0)
            + faulty_sample(port, "evhost_failed_events_total").unwrap_or(0)
    };
    eventually(SETTLE_LIMIT, "every event to fail", || total() == EVENTS);
    let metrics = (
        faulty_sample(port, "evhost_dead_lettered_events_total").expect("a dead_lettered sample"),
        faulty_sample(port, "evhost_failed_events_total").expect("a failed sample"),
    );
    running.signal(Signal::SIGTERM);
    let out = running.wait();
    out.expect_code(0);
    let line = (drained(&out.stderr, "faulty", "dead_lettered"), drained(&out.stderr, "faulty", "failed"));
    (metrics, line, env)
}

#[test]
fn without_a_dead_letter_file_failed_events_are_counted_as_failed_not_dead_lettered() {
    let (metrics, line, env) = failing_run(None);
    assert_eq!(metrics, (0, EVENTS), "metrics (dead_lettered, failed)");
    assert_eq!(line, (0, EVENTS), "the consumer drained line (dead_lettered, failed)");
    assert!(!env.path("faulty-dlq.jsonl").exists());
}

#[test]
fn with_a_dead_letter_file_failed_events_are_counted_as_dead_lettered() {
    let (metrics, line, env) = failing_run(Some("faulty-dlq.jsonl"));
    assert_eq!(metrics, (EVENTS, 0), "metrics (dead_lettered, failed)");
    assert_eq!(line, (EVENTS, 0), "the consumer drained line (dead_lettered, failed)");
    assert_eq!(env.json_lines("faulty-dlq.jsonl").len() as u64, EVENTS, "each one is in the file");
}
