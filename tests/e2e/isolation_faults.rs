//! What the Isolation section promises, done for real and counted: a worker killed from
//! outside (kill -9) mid-stream is restarted and nothing is lost; a consumer that crashes on
//! every batch fails, and what it did not get is in its dead-letter file (or, without one,
//! counted in one line with the fix); a hook that never returns in `on_start` or `on_stop`
//! is killed after `hook_timeout`; a producer that keeps crashing fails, and what it
//! committed is delivered.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::json;

use crate::admin::get;
use crate::config::Config;
use crate::disk::message;
use crate::faults::{
    children, dead_letters_are_every_id, digest_is_exact, faults, got_every_sequence_event, id_counts, ids_consumer,
    lines, lines_with_all, ran_in_workers, redact_backoff, redact_pids, run, terminate, Isolate,
};
use crate::slow_fixture::{slow_library, SLOW};
use crate::support::{eventually, free_port, Env, C, SETTLE_LIMIT};

const PAYLOAD: u64 = 64;

/// The `starter` producer as "idle": it starts no thread and runs until stopped, so the
/// host runs until a test signals it.
fn idle(config: Config) -> Config {
    config.producer("idle", SLOW).plugin("starter").config(json!({ "name": "idle" }))
}

#[test]
fn a_worker_killed_with_sigkill_mid_stream_is_restarted_and_every_event_arrives() {
    const EVENTS: u64 = 10_000;
    let env = Env::new();
    slow_library(&env);
    let port = free_port();
    // 50 events a batch, 5 ms a batch: the stream takes about a second, so the kill lands
    // in the middle of it.
    let config = Config::new()
        .table("admin", json!({ "listen": format!("127.0.0.1:{port}") }))
        .producer("seq", C)
        .plugin("sequence")
        .config(json!({ "count": EVENTS, "payload_bytes": PAYLOAD }))
        .consumer("slow", SLOW)
        .plugin("slow")
        .config(json!({ "name": "slow", "sleep_ms": 5 }))
        .set("batch", 50)
        .isolated(3, "100ms..200ms")
        .digest();
    env.write_config(&idle(config));
    let mut running = env.spawn();
    let host = running.pid().as_raw();
    running.wait_for_line("evhost is running");
    eventually(SETTLE_LIMIT, "the isolated consumer to get its first 1000 events", || {
        lines(&env, "slow.ids").len() >= 1000
    });
    let worker = ran_in_workers(&env, "slow", 1, host)[0];
    assert!(children(host).iter().any(|child| child.pid == worker), "worker {worker} is a child of the host {host}");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(worker), Signal::SIGKILL).expect("kill -9 the worker");
    let killed_at = lines(&env, "slow.ids").len();
    assert!(killed_at < EVENTS as usize, "the kill came after the stream ended: {killed_at} ids already");

    let report = running.wait_for_line("its worker died");
    eventually(SETTLE_LIMIT, "the restarted worker to get every event", || {
        id_counts(&env, "slow").len() >= EVENTS as usize
    });
    let (code, metrics) = get(port, "/metrics", None);
    assert_eq!(code, 200);
    let restarts: Vec<&str> = metrics.lines().filter(|l| l.starts_with("evhost_worker_restarts_total{")).collect();
    assert_eq!(restarts, ["evhost_worker_restarts_total{instance=\"slow\",reason=\"signal\"} 1"], "{metrics}");
    let (out, _) = terminate(running);
    out.expect_code(0);

    let workers = ran_in_workers(&env, "slow", 2, host);
    got_every_sequence_event(&env, "slow", EVENTS);
    digest_is_exact(&env, "digest.json", EVENTS, PAYLOAD);
    let report = redact_backoff(&redact_pids(&env.redact(message(&report)), &[workers.as_slice(), &[host]].concat()));
    insta::assert_snapshot!("worker_killed_from_outside", report);
    assert_eq!(lines_with_all(&out.stderr, &["ERROR", "its worker died"]).len(), 1, "{}", out.stderr);
}

/// The C sequence of `count` events into the C digest and into `crasher`, isolated, whose
/// every worker segfaults on the first event it is given: 1 start and 2 restarts.
fn crashes_on_every_batch(count: u64) -> Config {
    faults_config(Config::sequence(C, json!({ "count": count, "payload_bytes": PAYLOAD })).digest())
}

fn faults_config(config: Config) -> Config {
    ids_consumer(config, "crasher", json!({ "fault": "segv", "at": 1 })).isolated(2, "10ms..20ms")
}

#[test]
fn a_consumer_that_crashes_on_every_batch_fails_and_its_dead_letter_file_has_every_event() {
    const EVENTS: u64 = 3000;
    let env = Env::new();
    faults(&env);
    env.write_config(&crashes_on_every_batch(EVENTS).set("dead_letter", "crasher-dlq.jsonl"));
    let (out, host) = run(&env);
    out.expect_code(1);

    digest_is_exact(&env, "digest.json", EVENTS, PAYLOAD);
    let workers = ran_in_workers(&env, "crasher", 3, host);
    assert!(lines(&env, "crasher.ids").is_empty(), "it never handled an event");
    dead_letters_are_every_id(&env, "crasher-dlq.jsonl", EVENTS);
    assert_eq!(crate::support::drained(&out.stderr, "crasher", "dead_lettered"), EVENTS);
    assert_eq!(crate::support::drained(&out.stderr, "digest", "delivered"), EVENTS);

    let deaths = lines_with_all(&out.stderr, &["ERROR", "\"crasher\"", "SIGSEGV", "on_events"]);
    assert_eq!(deaths.len(), 4, "three deaths and the failure at shutdown:\n{}", out.stderr);
    let pids = [workers.as_slice(), &[host]].concat();
    let report: Vec<String> =
        deaths.iter().map(|l| redact_backoff(&redact_pids(&env.redact(message(l)), &pids))).collect();
    insta::assert_snapshot!("crashes_on_every_batch", report.join("\n"));
}

#[test]
fn without_dead_letter_a_failed_consumer_s_events_are_counted_in_one_line_with_the_fix() {
    const EVENTS: u64 = 3000;
    let env = Env::new();
    faults(&env);
    env.write_config(&crashes_on_every_batch(EVENTS));
    let (out, host) = run(&env);
    out.expect_code(1);

    digest_is_exact(&env, "digest.json", EVENTS, PAYLOAD);
    ran_in_workers(&env, "crasher", 3, host);
    let undelivered = lines_with_all(&out.stderr, &["crasher", "not delivered"]);
    assert_eq!(undelivered.len(), 2, "one line when it begins, one with the total, not one per event:\n{}", out.stderr);
    insta::assert_snapshot!("failed_without_dead_letter", env.redact(message(undelivered[1])));
    assert!(undelivered[0].contains("dead_letter = "), "the first line has the fix: {}", undelivered[0]);
    assert!(undelivered[1].contains(&format!("{EVENTS} events")), "the total: {}", undelivered[1]);
}

#[test]
fn a_producer_that_segfaults_every_time_fails_and_what_it_committed_is_delivered() {
    let env = Env::new();
    slow_library(&env);
    faults(&env);
    let config = Config::new()
        .producer("crasher", SLOW)
        .plugin("segv")
        .config(json!({ "name": "crasher", "count": 500 }))
        .isolated(2, "10ms..20ms");
    env.write_config(&ids_consumer(config, "ids", json!({})));
    let (out, host) = run(&env);
    out.expect_code(1);

    let workers = ran_in_workers(&env, "crasher", 3, host);
    let committed = lines(&env, "crasher.committed");
    assert_eq!(committed.len(), 500, "the first worker committed its 500, the others nothing");
    let delivered = id_counts(&env, "ids");
    for id in &committed {
        assert_eq!(delivered.get(id), Some(&1), "committed event {id} was delivered once");
    }
    assert_eq!(delivered.len(), 500, "nothing but the committed events was delivered");
    assert_eq!(crate::support::drained(&out.stderr, "ids", "delivered"), 500);
    let deaths = lines_with_all(&out.stderr, &["ERROR", "\"crasher\"", "SIGSEGV", "on_run"]);
    assert_eq!(deaths.len(), 4, "three deaths and the failure at shutdown:\n{}", out.stderr);
    let pids = [workers.as_slice(), &[host]].concat();
    let report: Vec<String> =
        deaths.iter().map(|l| redact_backoff(&redact_pids(&env.redact(message(l)), &pids))).collect();
    insta::assert_snapshot!("producer_segfaults_every_time", report.join("\n"));
}

#[test]
fn a_producer_that_hangs_in_on_start_is_killed_after_hook_timeout_and_fails() {
    let env = Env::new();
    slow_library(&env);
    let config = Config::sequence(C, json!({ "count": 100, "payload_bytes": PAYLOAD }))
        .digest()
        .producer("starter", SLOW)
        .plugin("starter")
        .config(json!({ "name": "starter", "hang_start": true }))
        .isolated(1, "10ms..20ms")
        .set("hook_timeout", "1s");
    env.write_config(&config);
    let started = Instant::now();
    let (out, host) = run(&env);
    let took = started.elapsed();
    out.expect_code(1);
    // Two hangs of 1 s each, then the end: not the 30 s default, not for ever.
    assert!(took < Duration::from_secs(8), "the run took {took:?}");
    let workers = ran_in_workers(&env, "starter", 2, host);
    digest_is_exact(&env, "digest.json", 100, PAYLOAD);
    let hangs = lines_with_all(&out.stderr, &["ERROR", "\"starter\"", "on_start", "hook_timeout of 1s"]);
    assert_eq!(hangs.len(), 3, "two hangs and the failure at shutdown:\n{}", out.stderr);
    let pids = [workers.as_slice(), &[host]].concat();
    let report: Vec<String> =
        hangs.iter().map(|l| redact_backoff(&redact_pids(&env.redact(message(l)), &pids))).collect();
    insta::assert_snapshot!("producer_hangs_in_on_start", report.join("\n"));
}

#[test]
fn a_consumer_that_hangs_in_on_stop_is_killed_after_hook_timeout_and_the_run_fails() {
    let env = Env::new();
    slow_library(&env);
    let config = Config::sequence(C, json!({ "count": 100, "payload_bytes": PAYLOAD }))
        .consumer("flusher", SLOW)
        .plugin("slow")
        .config(json!({ "name": "flusher", "hang_stop": true }))
        .isolated(3, "10ms..20ms")
        .set("hook_timeout", "1s")
        .digest();
    env.write_config(&config);
    let started = Instant::now();
    let (out, host) = run(&env);
    let took = started.elapsed();
    // Its on_stop (a flush) never finished: what it held may be lost, so the run failed.
    out.expect_code(1);
    assert!(took < Duration::from_secs(6), "the run took {took:?}");
    let workers = ran_in_workers(&env, "flusher", 1, host);
    got_every_sequence_event(&env, "flusher", 100);
    digest_is_exact(&env, "digest.json", 100, PAYLOAD);
    let hangs = lines_with_all(&out.stderr, &["ERROR", "\"flusher\"", "on_stop", "hook_timeout of 1s"]);
    assert_eq!(hangs.len(), 2, "the hang and the failure at shutdown:\n{}", out.stderr);
    let pids = [workers.as_slice(), &[host]].concat();
    let report: Vec<String> = hangs.iter().map(|l| redact_pids(&env.redact(message(l)), &pids)).collect();
    insta::assert_snapshot!("consumer_hangs_in_on_stop", report.join("\n"));
}

#[test]
fn a_producer_that_hangs_in_on_stop_is_killed_after_hook_timeout_and_the_run_fails() {
    let env = Env::new();
    slow_library(&env);
    let config = Config::new()
        .table("host", json!({ "drain_timeout": "5s" }))
        .producer("starter", SLOW)
        .plugin("starter")
        .config(json!({ "name": "starter", "hang_stop": true }))
        .isolated(3, "10ms..20ms")
        .set("hook_timeout", "1s")
        .digest();
    env.write_config(&config);
    let mut running = env.spawn();
    let host = running.pid().as_raw();
    running.wait_for_line("evhost is running");
    // A producer stopped before its worker was asked for on_start gets no on_stop either.
    eventually(SETTLE_LIMIT, "on_start to run", || !lines(&env, "starter.started").is_empty());
    let (out, took) = terminate(running);
    out.expect_code(1);
    assert!(took < Duration::from_secs(3), "exit took {took:?} after SIGTERM, the hook_timeout is 1s");
    let workers = ran_in_workers(&env, "starter", 1, host);
    assert!(
        lines_with_all(&out.stderr, &["restarting"]).is_empty(),
        "a stopping producer is not restarted:\n{}",
        out.stderr
    );
    let hangs = lines_with_all(&out.stderr, &["ERROR", "\"starter\"", "on_stop", "hook_timeout of 1s"]);
    assert_eq!(hangs.len(), 2, "the hang and the failure at shutdown:\n{}", out.stderr);
    let pids = [workers.as_slice(), &[host]].concat();
    let report: Vec<String> = hangs.iter().map(|l| redact_pids(&env.redact(message(l)), &pids)).collect();
    insta::assert_snapshot!("producer_hangs_in_on_stop", report.join("\n"));
}

#[test]
fn an_isolated_on_run_producer_may_take_longer_than_hook_timeout_to_return_after_on_stop() {
    // on_run has no hook_timeout (README, Isolation): once on_stop returned, only the drain
    // bounds it, as in-process. Its final flush takes 1.5 s against a 1 s hook_timeout.
    let env = Env::new();
    slow_library(&env);
    let config = Config::new()
        .table("host", json!({ "drain_timeout": "5s" }))
        .producer("linger", SLOW)
        .plugin("linger")
        .config(json!({ "name": "linger", "sleep_ms": 1500 }))
        .isolated(3, "10ms..20ms")
        .set("hook_timeout", "1s")
        .digest();
    env.write_config(&config);
    let mut running = env.spawn();
    running.wait_for_line("evhost is running");
    eventually(SETTLE_LIMIT, "on_run to run", || !lines(&env, "linger.started").is_empty());
    let (out, took) = terminate(running);
    out.expect_code(0);
    assert!(took >= Duration::from_millis(1500), "exit after {took:?}: on_run's flush was cut short");
    assert!(lines_with_all(&out.stderr, &["ERROR"]).is_empty(), "no hang, no death:\n{}", out.stderr);
}
