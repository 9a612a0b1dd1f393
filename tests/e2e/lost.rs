//! Failed events that cannot be dead-lettered are counted as lost, named in the log, and
//! make the exit code 1; a consumer that claims more events handled than it was given is
//! treated as having handled none of them.

use std::collections::BTreeSet;

use nix::sys::signal::Signal;
use serde_json::{json, Value};

use crate::config::Config;
use crate::fixture;
use crate::support::{drained, eventually, free_port, log_fields, Env, Output, C, RUST_FIXTURES, SETTLE_LIMIT};

const EVENTS: u64 = 100;

/// The C sequence (EVENTS events), a C digest, and the Rust `faulty` failing every batch,
/// with `dead_letter` as given.
fn failing_consumer(dead_letter: &str) -> Env {
    Env::with(
        &Config::sequence_into_digest(json!({ "count": EVENTS, "payload_bytes": 16 }))
            .consumer("faulty", RUST_FIXTURES)
            .plugin("faulty")
            .config(json!({ "mode": "fail" }))
            .set("dead_letter", dead_letter),
    )
}

/// The event ids of the "event lost" error lines, each asserted to appear once.
fn lost_ids(stderr: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for line in stderr.lines().filter(|l| l.contains("ERROR") && l.contains("event lost: ")) {
        let fields = log_fields(line);
        let id = fields.iter().find(|(k, _)| k == "id").unwrap_or_else(|| panic!("no id= in {line:?}"));
        assert!(fields.iter().any(|(k, _)| k == "seq"), "no seq= in {line:?}");
        assert!(ids.insert(id.1.trim_matches('"').to_string()), "event {} reported lost twice", id.1);
    }
    ids
}

/// Exit 1, the loss counted in the summary and in the final error, never "cleanly".
fn lost_and_said_so(out: &Output, lost: u64) {
    out.expect_code(1);
    assert_eq!(drained(&out.stderr, "faulty", "lost"), lost, "{}", out.stderr);
    assert!(out.stderr.contains(&format!("consumer \"faulty\" lost {lost} events")), "{}", out.stderr);
    assert!(!out.stderr.contains("cleanly"), "{}", out.stderr);
}

#[test]
fn dead_letters_that_hit_a_full_disk_are_counted_as_lost() {
    // /dev/full opens fine (so `check` accepts it) and fails every write with ENOSPC.
    let env = failing_consumer("/dev/full");
    env.evhost(&["check", "-c", "evhost.toml"]).expect_code(0);
    let out = env.run();
    lost_and_said_so(&out, EVENTS);
    assert_eq!(drained(&out.stderr, "faulty", "dead_lettered"), 0, "{}", out.stderr);
    let expected: BTreeSet<String> = (0..EVENTS).map(|k| k.to_string()).collect();
    assert_eq!(lost_ids(&out.stderr), expected, "every event named as lost once");
    assert!(out.stderr.contains("No space left on device"), "the OS reason is given:\n{}", out.stderr);
    assert!(out.stderr.contains("trying again in"), "the write was retried:\n{}", out.stderr);
    // The neighbour is not held up by the retries.
    assert_eq!(env.json("digest.json")["count"], EVENTS);
}

#[test]
fn dead_letters_when_the_process_is_out_of_file_descriptors_are_counted_as_lost() {
    let env = Env::new();
    // On its first batch the consumer lowers the descriptor limit and uses up what is left
    // (EMFILE for everyone after it), then fails the batch.
    fixture::misbehaving_consumer(
        &env,
        r#"if (seen == 0) {
        struct rlimit limit;
        getrlimit(RLIMIT_NOFILE, &limit);
        limit.rlim_cur = 256;
        setrlimit(RLIMIT_NOFILE, &limit);
        while (open("/dev/null", O_RDONLY) >= 0) {}
    }
    return EVH_FAIL;"#,
    );
    let config = Config::sequence(C, json!({ "count": EVENTS, "payload_bytes": 16 }))
        .consumer("faulty", "libfixture.so")
        .plugin("fixture")
        .set("dead_letter", "dlq.jsonl");
    env.write_config(&config);
    let out = env.run();
    lost_and_said_so(&out, EVENTS);
    assert!(out.stderr.contains("Too many open files"), "the OS reason is given:\n{}", out.stderr);
    assert_eq!(lost_ids(&out.stderr).len() as u64, EVENTS);
    assert!(!env.path("dlq.jsonl").exists());
}

/// A structured CloudEvent with id `id`, as the http producer takes it.
fn post(port: u16, ids: &[&str]) {
    let batch: Vec<Value> =
        ids.iter().map(|id| json!({"specversion": "1.0", "id": id, "source": "/test", "type": "t"})).collect();
    let response = ureq::post(&format!("http://127.0.0.1:{port}/"))
        .set("Content-Type", "application/cloudevents-batch+json")
        .send_string(&Value::from(batch).to_string())
        .expect("the http producer accepts the batch");
    assert_eq!(response.status(), 202);
}

#[test]
fn dead_letters_after_their_folder_was_removed_are_counted_as_lost() {
    let port = free_port();
    let env = Env::with(
        &Config::new()
            .producer("api", "libevh_http.so")
            .config(json!({ "listen": format!("127.0.0.1:{port}") }))
            .consumer("faulty", RUST_FIXTURES)
            .plugin("faulty")
            .config(json!({ "mode": "fail" }))
            .set("dead_letter", "dlq/dlq.jsonl"),
    );
    std::fs::create_dir(env.path("dlq")).unwrap();
    let mut running = env.spawn();
    running.wait_for_line(&format!("listening on http://127.0.0.1:{port}"));
    post(port, &["early-1", "early-2", "early-3"]);
    eventually(SETTLE_LIMIT, "the first 3 dead letters", || env.lines_so_far("dlq/dlq.jsonl") >= 3);
    // The writer holds the file open; writing on would put the letters where no one looks.
    std::fs::remove_dir_all(env.path("dlq")).unwrap();
    post(port, &["late-1", "late-2"]);
    running.wait_for_line("event lost");
    running.wait_for_line("event lost");
    running.signal(Signal::SIGTERM);
    let out = running.wait();
    lost_and_said_so(&out, 2);
    assert_eq!(drained(&out.stderr, "faulty", "dead_lettered"), 3, "{}", out.stderr);
    assert_eq!(lost_ids(&out.stderr), BTreeSet::from(["late-1".to_string(), "late-2".to_string()]));
    assert!(!env.path("dlq").exists(), "the host recreated nothing");
}

/// Sequence events into the fixture consumer running `body`; its dead-letter file must hold
/// every event once, with a reason that names the bad `handled`.
fn out_of_range(body: &str, retries: u64) {
    let env = Env::new();
    fixture::misbehaving_consumer(&env, body);
    env.write_config(
        &Config::sequence(C, json!({ "count": EVENTS, "payload_bytes": 16 }))
            .consumer("liar", "libfixture.so")
            .plugin("fixture")
            .set("retry", json!({ "attempts": 2, "backoff": "1ms..2ms" }))
            .set("dead_letter", "dlq.jsonl"),
    );
    let out = env.run();
    out.expect_code(0);
    let letters = env.json_lines("dlq.jsonl");
    let ids: Vec<u64> = letters.iter().map(|l| l["id"].as_str().unwrap().parse().unwrap()).collect();
    assert_eq!(ids, (0..EVENTS).collect::<Vec<_>>(), "every event dead-lettered once, in order");
    for line in &letters {
        assert!(line["evhosterror"].as_str().unwrap().contains("on_events also reported handled = "), "{line}");
    }
    assert_eq!(drained(&out.stderr, "liar", "delivered"), 0, "{}", out.stderr);
    assert_eq!(drained(&out.stderr, "liar", "dead_lettered"), EVENTS, "{}", out.stderr);
    let batches = out.stderr.lines().filter(|l| l.contains("sent to the dead-letter file")).count() as u64;
    assert_eq!(drained(&out.stderr, "liar", "retries"), retries * batches, "{}", out.stderr);
    let complaint = out
        .stderr
        .lines()
        .find(|l| l.contains("ERROR") && l.contains("on_events reported more events handled than it was given"))
        .unwrap_or_else(|| panic!("the plugin error is logged:\n{}", out.stderr));
    let fields = log_fields(complaint);
    for key in ["status", "handled", "n"] {
        assert!(fields.iter().any(|(k, _)| k == key), "no {key}= in {complaint:?}");
    }
}

#[test]
fn retry_with_one_more_handled_than_given_is_retried_then_dead_lettered() {
    out_of_range("*handled = n + 1; return EVH_RETRY;", 2);
}

#[test]
fn fail_with_size_max_handled_is_dead_lettered() {
    out_of_range("*handled = SIZE_MAX; return EVH_FAIL;", 0);
}
