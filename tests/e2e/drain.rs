//! The drain after SIGTERM, where an isolated consumer waits out a restart backoff, and as
//! the admin endpoint shows it: shutdown ends the backoff at once (the consumer is restarted
//! and drains, or fails and dead-letters what it did not get) instead of waiting it out
//! past `drain_timeout`; `/readyz` answers 503 while the host drains.

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::{json, Value};

use crate::admin::get;
use crate::config::Config;
use crate::faults::{
    dead_letters_are_every_id, faults, got_every_sequence_event, ids_consumer, lines, ran_in_workers, terminate,
    Isolate,
};
use crate::slow_fixture::{slow_library, SLOW};
use crate::support::{drained, eventually, free_port, Env, Output, C, SETTLE_LIMIT};

/// Backoffs of 10 s and more: the first restart waits between 5 and 10 s.
const LONG_BACKOFF: &str = "10s..30s";
const DRAIN: &str = "8s";
/// Well under the shortest first backoff (5 s), and under the drain timeout.
const PROMPT: Duration = Duration::from_secs(3);

/// The C sequence of `count` events into `crasher`, isolated with a long backoff and
/// `fault`, and into `witness`, in process, beside an idle producer that keeps the host
/// running until SIGTERM.
fn backing_off(env: &Env, count: u64, fault: Value) -> Config {
    faults(env);
    slow_library(env);
    let config = Config::new()
        .table("host", json!({ "drain_timeout": DRAIN }))
        .producer("seq", C)
        .plugin("sequence")
        .config(json!({ "count": count, "payload_bytes": 16 }))
        .producer("idle", SLOW)
        .plugin("starter")
        .config(json!({ "name": "idle" }))
        .consumer("witness", SLOW)
        .plugin("slow")
        .config(json!({ "name": "witness" }));
    ids_consumer(config, "crasher", fault).isolated(5, LONG_BACKOFF)
}

/// Runs `config` until every event is in the log (the witness has them) and the crasher
/// waits out a backoff, then sends SIGTERM: the host's output and pid, once it exited
/// within [`PROMPT`].
fn terminated_in_backoff(env: &Env, config: &Config) -> (Output, i32) {
    env.write_config(config);
    let mut running = env.spawn();
    let host = running.pid().as_raw();
    eventually(SETTLE_LIMIT, "the witness to get 1000 events", || lines(env, "witness.ids").len() >= 1000);
    running.wait_for_line("restarting it in");
    let (out, took) = terminate(running);
    assert!(took < PROMPT, "exit took {took:?} after SIGTERM: the backoff was waited out\n{}", out.stderr);
    (out, host)
}

#[test]
fn sigterm_ends_a_restart_backoff_and_the_restarted_consumer_drains() {
    let env = Env::new();
    let (out, host) =
        terminated_in_backoff(&env, &backing_off(&env, 1000, json!({ "fault": "segv", "at": 10, "once": true })));
    out.expect_code(0);
    ran_in_workers(&env, "crasher", 2, host);
    got_every_sequence_event(&env, "crasher", 1000);
    assert!(drained(&out.stderr, "crasher", "delivered") >= 1000, "{}", out.stderr);
}

#[test]
fn sigterm_ends_the_backoffs_of_a_consumer_that_keeps_crashing_and_dead_letters_the_rest() {
    let env = Env::new();
    let config = backing_off(&env, 1000, json!({ "fault": "segv", "at": 1 })).set("dead_letter", "crasher-dlq.jsonl");
    let (out, host) = terminated_in_backoff(&env, &config);
    // Its restarts run at once and are spent: the instance failed, and the run with it.
    out.expect_code(1);
    ran_in_workers(&env, "crasher", 6, host);
    assert!(lines(&env, "crasher.ids").is_empty(), "it never handled an event");
    dead_letters_are_every_id(&env, "crasher-dlq.jsonl", 1000);
    assert_eq!(drained(&out.stderr, "crasher", "dead_lettered"), 1000);
    assert!(!out.stderr.contains("did not drain"), "{}", out.stderr);
}

#[test]
fn readyz_answers_503_while_the_host_drains() {
    let env = Env::new();
    slow_library(&env);
    let port = free_port();
    // 20 events a batch at 20 ms a batch: 2000 events take about 2 s to drain.
    let config = Config::new()
        .table("admin", json!({ "listen": format!("127.0.0.1:{port}") }))
        .table("host", json!({ "drain_timeout": "15s" }))
        .producer("seq", C)
        .plugin("sequence")
        .config(json!({ "count": 2000, "payload_bytes": 16 }))
        .producer("idle", SLOW)
        .plugin("starter")
        .config(json!({ "name": "idle" }))
        .consumer("slow", SLOW)
        .plugin("slow")
        .config(json!({ "name": "slow", "sleep_ms": 20 }))
        .set("batch", 20);
    env.write_config(&config);
    let mut running = env.spawn();
    running.wait_for_line("evhost is running");
    eventually(SETTLE_LIMIT, "/readyz to answer 200", || get(port, "/readyz", None).0 == 200);
    eventually(SETTLE_LIMIT, "the slow consumer to begin", || !lines(&env, "slow.ids").is_empty());
    running.signal(Signal::SIGTERM);
    running.wait_for_line("stopping producers and draining consumers");
    let (code, body) = get(port, "/readyz", None);
    assert!(lines(&env, "slow.ids").len() < 2000, "the drain was over before /readyz was asked");
    assert_eq!(code, 503, "{body}\n{}", lines(&env, "slow.ids").len());
    let body: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!((&body["ready"], &body["state"]), (&json!(false), &json!("draining")), "{body:#}");
    // The producers stop at their own pace (draining, then stopped); the consumer drains.
    let not_ready = body["not_ready"].as_array().expect("a list");
    assert_eq!(not_ready.len(), 3, "every instance is named: {body:#}");
    assert!(not_ready.iter().all(|entry| entry["reason"] == "the host is shutting down"), "{body:#}");
    let slow = not_ready.iter().find(|entry| entry["instance"] == "slow").expect("the consumer is named");
    insta::assert_snapshot!("readyz_while_draining", format!("{slow:#}"));
    let out = running.wait();
    out.expect_code(0);
    assert_eq!(lines(&env, "slow.ids").len(), 2000, "the drain delivered everything");
}
