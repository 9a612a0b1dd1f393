//! Delivery promises with misbehaving consumers (the Rust `faulty` and Go `panicky`
//! fixtures) next to a healthy C digest: failures go to the dead-letter file, retries
//! succeed, and the healthy consumer still sees every event.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{json, Value};

use crate::config::Config;
use crate::support::{drained, Env, Output, GO_FIXTURES, RUST_FIXTURES};

const EVENTS: u64 = 1000;

/// The C sequence (EVENTS events) and a C digest, plus the consumer "faulty" from
/// `library`, dead-lettering to dlq.jsonl, with the keys `keys` adds.
fn with_consumer(library: &str, keys: impl FnOnce(Config) -> Config) -> Env {
    let config = Config::sequence_into_digest(json!({ "count": EVENTS, "payload_bytes": 16 }))
        .consumer("faulty", library)
        .set("dead_letter", "dlq.jsonl");
    Env::with(&keys(config))
}

/// The healthy digest consumer saw every event in order, whatever its neighbour did.
fn digest_complete(env: &Env) {
    let digest = env.json("digest.json");
    assert_eq!(digest["count"], EVENTS, "{digest}");
    assert_eq!(digest["in_order"], true, "{digest}");
}

/// Dead letters by event id; asserts each event appears once, in CloudEvents form.
fn dead_letters(env: &Env) -> BTreeMap<u64, Value> {
    let mut by_id = BTreeMap::new();
    for line in env.json_lines("dlq.jsonl") {
        assert_eq!(line["specversion"], "1.0", "{line}");
        assert_eq!(line["source"], "/evhost/examples/sequence", "{line}");
        assert_eq!(line["type"], "dev.evhost.example.sequence", "{line}");
        assert_eq!(line["evhostconsumer"], "faulty", "{line}");
        let id: u64 =
            line["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("a numeric id: {line}"));
        // Event k carries 16 bytes (k + i) mod 256: not JSON, so it is base64.
        let data: Vec<u8> = (0..16).map(|i| ((id + i) % 256) as u8).collect();
        assert_eq!(line["data_base64"], json!(base64::engine::general_purpose::STANDARD.encode(&data)), "{line}");
        assert!(by_id.insert(id, line).is_none(), "event {id} dead-lettered twice");
    }
    by_id
}

/// Runs to a clean exit in which the digest got every event and every event was
/// dead-lettered exactly once, each with an `evhosterror` containing `error`.
fn every_event_dead_lettered(env: &Env, error: &str) -> Output {
    let out = env.run();
    out.expect_code(0);
    digest_complete(env);
    let letters = dead_letters(env);
    assert_eq!(
        letters.keys().copied().collect::<Vec<_>>(),
        (0..EVENTS).collect::<Vec<_>>(),
        "every event dead-lettered exactly once"
    );
    for line in letters.values() {
        assert!(line["evhosterror"].as_str().expect("an evhosterror string").contains(error), "{line}");
    }
    out
}

#[test]
fn a_panicking_consumer_is_dead_lettered_and_the_others_go_on() {
    let env = with_consumer(RUST_FIXTURES, |c| c.plugin("faulty").config(json!({ "mode": "panic" })));
    let out = every_event_dead_lettered(&env, "asked to panic in on_events");
    assert_eq!(drained(&out.stderr, "faulty", "dead_lettered"), EVENTS);
}

#[test]
fn retries_that_succeed_deliver_everything() {
    let env = with_consumer(RUST_FIXTURES, |c| {
        c.plugin("faulty")
            .config(json!({ "mode": "retry_then_ok", "times": 3 }))
            .set("retry", json!({ "attempts": 5, "backoff": "1ms..10ms" }))
    });
    let out = env.run();
    out.expect_code(0);
    digest_complete(&env);
    assert!(!env.path("dlq.jsonl").exists(), "no dead letters expected:\n{}", out.stderr);
    assert_eq!(drained(&out.stderr, "faulty", "delivered"), EVENTS, "{}", out.stderr);
    assert_eq!(drained(&out.stderr, "faulty", "retries"), 3, "{}", out.stderr);
    assert_eq!(drained(&out.stderr, "faulty", "dead_lettered"), 0, "{}", out.stderr);
}

#[test]
fn a_failing_consumer_dead_letters_every_event_once() {
    let env = with_consumer(RUST_FIXTURES, |c| {
        c.plugin("faulty")
            .config(json!({ "mode": "fail" }))
            .set("retry", json!({ "attempts": 5, "backoff": "1ms..10ms" }))
    });
    let out = every_event_dead_lettered(&env, "asked to fail");
    // FAIL is final: no retries.
    assert_eq!(drained(&out.stderr, "faulty", "retries"), 0, "{}", out.stderr);
}

#[test]
fn exhausted_retries_are_dead_lettered() {
    let env = with_consumer(RUST_FIXTURES, |c| {
        c.plugin("faulty")
            .config(json!({ "mode": "retry_then_ok", "times": 1000000 }))
            .set("retry", json!({ "attempts": 2, "backoff": "1ms..2ms" }))
    });
    every_event_dead_lettered(&env, "asked to retry");
    let letters = dead_letters(&env);
    for line in letters.values() {
        assert!(line["evhosterror"].as_str().expect("evhosterror").contains("gave up after 2 retries"), "{line}");
    }
}

#[test]
fn a_panicking_go_consumer_leaves_the_host_running() {
    let env = with_consumer(GO_FIXTURES, |c| c.plugin("panicky"));
    every_event_dead_lettered(&env, "panicky: deliberate panic in OnEvents");
}

/// faulty retries its first batches with a long backoff, so it stalls while the producer
/// fills a small log; under drop_oldest it skips what it missed, while the blocking digest
/// still gets everything.
fn slow_drop_oldest_consumer() -> (Env, Output) {
    let env = Env::with(
        &Config::sequence_into_digest(json!({ "count": 100000, "payload_bytes": 16 }))
            .table("log", json!({ "capacity": 256 }))
            .consumer("faulty", RUST_FIXTURES)
            .plugin("faulty")
            .set("policy", "drop_oldest")
            .set("batch", 16)
            .config(json!({ "mode": "retry_then_ok", "times": 2 }))
            .set("retry", json!({ "attempts": 5, "backoff": "200ms..200ms" }))
            .set("dead_letter", "dlq.jsonl"),
    );
    let out = env.run();
    out.expect_code(0);
    (env, out)
}

#[test]
fn a_slow_drop_oldest_consumer_skips_without_stalling_the_others() {
    let (env, out) = slow_drop_oldest_consumer();
    let digest = env.json("digest.json");
    assert_eq!(digest["count"], 100000, "{digest}");
    assert_eq!(digest["in_order"], true, "{digest}");
    assert_eq!(drained(&out.stderr, "digest", "dropped"), 0, "{}", out.stderr);
    assert!(drained(&out.stderr, "faulty", "dropped") > 0, "the stalled consumer dropped nothing:\n{}", out.stderr);
    assert!(out.stderr.contains("policy drop_oldest skipped the oldest events"), "{}", out.stderr);
    assert!(!env.path("dlq.jsonl").exists(), "dropping is not dead-lettering");
    let (delivered, dropped) = (drained(&out.stderr, "faulty", "delivered"), drained(&out.stderr, "faulty", "dropped"));
    assert_eq!(
        delivered + dropped,
        100000,
        "every event is either delivered or counted as dropped, never both:\n{}",
        out.stderr
    );
}
