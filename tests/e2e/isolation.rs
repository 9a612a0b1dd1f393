//! Isolated plugins (`isolate = true`): a crash in a worker process is contained, the
//! worker restarted and its batch delivered again; a plugin that keeps crashing is marked
//! failed while the others finish; a second Go library runs in a worker of its own; `check`
//! creates isolated instances too. The fault-injecting plugins and the readers are in
//! `faults`; hangs, memory limits, open files and a killed host in `isolation_limits`.

use serde_json::{json, Value};

use crate::config::Config;
use crate::disk::message;
use crate::faults::{
    dead_letters_are_every_id, digest_is_exact, emitter, faults, got_every_sequence_event, id_counts, idle_producer,
    ids_consumer, lines, lines_with_all, ran_in_workers, redact_backoff, redact_pids, run, terminate, Isolate,
};
use crate::support::{eventually, Env, C, GO, GO_FIXTURES, SETTLE_LIMIT};

const EVENTS: u64 = 20_000;
const PAYLOAD: u64 = 64;

#[test]
fn a_consumer_that_segfaults_is_restarted_and_the_host_and_the_others_go_on() {
    // Without isolation the segfault on the 1000th event kills the host and everything in it.
    let env = Env::new();
    faults(&env);
    let config = Config::sequence(C, json!({ "count": EVENTS, "payload_bytes": PAYLOAD })).consumers(
        &[("c-digest", C), ("go-digest", GO)],
        "digest",
        "",
    );
    let config =
        ids_consumer(config, "crasher", json!({ "fault": "segv", "at": 1000, "once": true })).isolated(3, "100ms..1s");
    env.write_config(&config);
    let (out, host) = run(&env);
    out.expect_code(0);

    digest_is_exact(&env, "c-digest.json", EVENTS, PAYLOAD);
    digest_is_exact(&env, "go-digest.json", EVENTS, PAYLOAD);
    let delivered = got_every_sequence_event(&env, "crasher", EVENTS);
    // The ids before the 1000th of the batch it crashed in were written, then came again.
    assert!(delivered > EVENTS as usize, "the batch it crashed in was not delivered again: {delivered}");
    ran_in_workers(&env, "crasher", 2, host);
    assert!(env.path("crasher.ids.fired").exists(), "the fault fired");
    let reports = lines_with_all(&out.stderr, &["ERROR", "SIGSEGV", "crasher", "libfaults.so", "on_events"]);
    assert_eq!(reports.len(), 1, "one line names the signal, the instance, the library and the hook:\n{}", out.stderr);
}

#[test]
fn a_consumer_that_aborts_in_on_create_every_time_fails_and_the_others_finish() {
    let env = Env::new();
    faults(&env);
    let config = Config::sequence(C, json!({ "count": 1000, "payload_bytes": PAYLOAD })).digest();
    let config = ids_consumer(config, "crasher", json!({ "fault": "abort_create" }))
        .isolated(2, "50ms..100ms")
        .set("dead_letter", "crasher-dlq.jsonl");
    env.write_config(&config);
    let (out, host) = run(&env);
    out.expect_code(1);

    digest_is_exact(&env, "digest.json", 1000, PAYLOAD);
    // `attempts` counts restarts, as `retry`'s attempts count retries: one start and two more.
    let workers = ran_in_workers(&env, "crasher", 3, host);
    assert!(lines(&env, "crasher.ids").is_empty(), "it never got an event");
    dead_letters_are_every_id(&env, "crasher-dlq.jsonl", 1000);

    // Each crash, the failure, and the reason for the exit code, as the host reports them;
    // not the dead-letter lines, one per batch, whose sizes vary from run to run.
    let report: Vec<&str> = lines_with_all(&out.stderr, &["ERROR", "\"crasher\"", "libfaults.so", "SIGABRT"]);
    assert_eq!(report.len(), 4, "three crashes and the failure at shutdown:\n{}", out.stderr);
    let mut ids: Vec<i32> = workers;
    ids.push(host);
    let report: Vec<String> =
        report.iter().map(|l| redact_backoff(&redact_pids(&env.redact(message(l)), &ids))).collect();
    insta::assert_snapshot!("isolated_create_aborts", report.join("\n"));
}

#[test]
fn a_producer_that_segfaults_loses_nothing_it_committed_and_restarts() {
    // The emitter records the ids of each batch once its emit (EVH_EMIT_COMMIT) returned,
    // and segfaults once 500 are committed; restarted, it emits its 2000 and finishes.
    let env = Env::new();
    faults(&env);
    let config = emitter(Config::new(), "crasher", json!({ "count": 2000, "fault": "segv", "at": 500, "once": true }))
        .isolated(3, "100ms..1s");
    env.write_config(&ids_consumer(config, "ids", json!({})));
    let (out, host) = run(&env);
    out.expect_code(0);

    let workers = ran_in_workers(&env, "crasher", 2, host);
    let committed = lines(&env, "crasher.committed");
    let first: Vec<&String> = committed.iter().filter(|id| id.starts_with(&format!("{}-", workers[0]))).collect();
    assert_eq!(first.len(), 500, "the first worker committed 500 events before it crashed");
    assert_eq!(committed.len(), 2500, "and the second its 2000");
    let delivered = id_counts(&env, "ids");
    for id in &committed {
        assert_eq!(delivered.get(id), Some(&1), "committed event {id} was delivered once");
    }
    assert_eq!(delivered.len(), committed.len(), "nothing but the committed events was delivered");
    let reports = lines_with_all(&out.stderr, &["ERROR", "SIGSEGV", "crasher", "libfaults.so", "on_run"]);
    assert_eq!(reports.len(), 1, "the crash is reported:\n{}", out.stderr);
}

#[test]
fn a_second_go_library_runs_isolated_beside_the_first() {
    // Two Go runtimes cannot share a process; without isolation the host refuses this config.
    let env = Env::new();
    faults(&env);
    let config = Config::sequence(C, json!({ "count": 5000, "payload_bytes": PAYLOAD }))
        .consumer("go-digest", GO)
        .plugin("digest")
        .config(json!({ "path": "go-digest.json" }))
        .consumer("go-ids", GO_FIXTURES)
        .plugin("ids")
        .config(json!({ "ids": "go-ids.ids", "pids": "go-ids.pids" }))
        .isolated(3, "100ms..1s");
    env.write_config(&idle_producer(config));
    let mut running = env.spawn();
    let host = running.pid().as_raw();
    running.wait_for_line("evhost is running");
    eventually(SETTLE_LIMIT, "the isolated Go consumer to get 5000 events", || lines(&env, "go-ids.ids").len() >= 5000);
    let (out, _) = terminate(running);
    out.expect_code(0);
    digest_is_exact(&env, "go-digest.json", 5000, PAYLOAD);
    assert_eq!(got_every_sequence_event(&env, "go-ids", 5000), 5000, "once each");
    ran_in_workers(&env, "go-ids", 1, host);
}

#[test]
fn a_go_library_under_max_memory_512mib_runs() {
    // A Go runtime reserves far more address space than it uses (about 700 MiB at start);
    // max_memory counts data memory, so the issue's own example value runs a Go worker.
    let env = Env::new();
    let config = Config::sequence(C, json!({ "count": 1000, "payload_bytes": PAYLOAD }))
        .consumer("go-ids", GO_FIXTURES)
        .plugin("ids")
        .config(json!({ "ids": "go-ids.ids", "pids": "go-ids.pids" }))
        .isolated(1, "10ms..20ms")
        .set("max_memory", "512MiB");
    env.write_config(&config);
    let (out, host) = run(&env);
    out.expect_code(0);
    assert_eq!(got_every_sequence_event(&env, "go-ids", 1000), 1000, "once each");
    ran_in_workers(&env, "go-ids", 1, host);
}

#[test]
fn check_creates_isolated_instances_in_workers_and_names_one_that_dies() {
    let env = Env::new();
    faults(&env);
    env.write_config(&ids_consumer(Config::new(), "fine", json!({})).isolated(0, "10ms..20ms"));
    let running = env.start(&["check", "-c", "evhost.toml"]);
    let checker = running.pid().as_raw();
    let out = running.wait();
    out.expect_code(0);
    assert_eq!(out.stdout, "evhost.toml: OK (0 producers, 1 consumer)\n");
    ran_in_workers(&env, "fine", 1, checker);

    let config = ids_consumer(Config::new(), "crasher", json!({ "fault": "abort_create" })).isolated(1, "10ms..20ms");
    env.write_config(&config);
    let out = env.fails(&["check", "-c", "evhost.toml"]);
    let errors: Vec<&str> = out.stderr.lines().skip_while(|l| !l.starts_with("error: consumer \"crasher\"")).collect();
    assert!(!errors.is_empty(), "the check names the instance:\n{}", out.stderr);
    insta::assert_snapshot!("isolated_check_create_aborts", env.redact(&errors.join("\n")));
}

/// The C sequence of 100 events into `crasher`, isolated, which segfaults on its 10th event
/// once: a crash the host survives.
fn one_contained_crash(env: &Env) {
    faults(env);
    let config = Config::sequence(C, json!({ "count": 100, "payload_bytes": PAYLOAD }));
    env.write_config(
        &ids_consumer(config, "crasher", json!({ "fault": "segv", "at": 10, "once": true })).isolated(3, "10ms..20ms"),
    );
}

#[test]
fn a_contained_crash_is_not_reported_as_the_end_of_the_process() {
    // The line a crash in the host's own process ends with ("the process dies of this
    // signal") is wrong when only a worker died and the host goes on.
    let env = Env::new();
    one_contained_crash(&env);
    let (out, _) = run(&env);
    out.expect_code(0);
    got_every_sequence_event(&env, "crasher", 100);
    assert_eq!(lines_with_all(&out.stderr, &["ERROR", "SIGSEGV", "crasher"]).len(), 1, "{}", out.stderr);
    let dying: Vec<&str> = lines_with_all(&out.stderr, &["the process dies"]);
    assert!(dying.is_empty(), "the host lives on, yet stderr says: {dying:?}\n{}", out.stderr);
}

#[test]
fn with_json_logs_a_worker_s_lines_are_json_too() {
    // `--log-format json` promises one JSON object per line for log shippers: the lines
    // about and from a worker, a plugin's own `log` line and its crash included.
    let env = Env::new();
    one_contained_crash(&env);
    let out = env.evhost(&["--log-format", "json", "run", "-c", "evhost.toml"]);
    out.expect_code(0);
    let mut log = Vec::new();
    for line in out.stderr.lines() {
        match serde_json::from_str::<Value>(line) {
            Ok(value) if value.is_object() => log.push(value),
            _ => panic!("not a JSON object: {line:?}\n{}", out.stderr),
        }
    }
    let created: Vec<&Value> = log.iter().filter(|l| l["instance"] == "crasher" && l["message"] == "created").collect();
    assert_eq!(created.len(), 2, "the plugin's log line, once per worker, names its instance:\n{}", out.stderr);
    assert!(created.iter().all(|l| l["level"] == "INFO"), "{created:?}");
    let crash = log
        .iter()
        .filter(|l| l["level"] == "ERROR" && l["message"].as_str().is_some_and(|m| m.contains("SIGSEGV")))
        .count();
    assert_eq!(crash, 1, "{}", out.stderr);
}
