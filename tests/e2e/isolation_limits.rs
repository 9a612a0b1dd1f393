//! What an isolated plugin cannot do to the host: hang it (`hook_timeout` kills the worker,
//! and SIGTERM still ends the host within `drain_timeout`), take its memory (`max_memory`
//! kills the worker, reported as out of memory), reach its files (a worker holds none of
//! the host's descriptors), or outlive it (kill -9 of the host leaves no worker behind).
//! The fixtures are those of `isolation`.

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::json;

use crate::config::Config;
use crate::faults::{
    alive, children, digest_is_exact, faults, got_every_sequence_event, idle_producer, ids_consumer, lines,
    lines_with_all, pids, ran_in_workers, terminate, Isolate, Process,
};
use crate::fixture::MEMORY_CAP_KIB;
use crate::support::{eventually, free_port, Env, C, GO_FIXTURES, SETTLE_LIMIT};

const DRAIN: Duration = Duration::from_secs(2);
/// How long after its drain_timeout a host may take to exit on a busy machine.
const MARGIN: Duration = Duration::from_millis(1500);

/// The sequence (`count` events of 64 bytes), the C digest, a 2 s drain_timeout and, last
/// (so that `isolated` applies to it), the idle producer: the host runs until a test
/// signals it.
fn signalled_host(count: u64) -> Config {
    let config = Config::new()
        .table("host", json!({ "drain_timeout": format!("{}s", DRAIN.as_secs()) }))
        .producer("seq", C)
        .plugin("sequence")
        .config(json!({ "count": count, "payload_bytes": 64 }))
        .digest();
    idle_producer(config)
}

#[test]
fn a_consumer_that_hangs_past_hook_timeout_is_killed_and_restarted() {
    // Without isolation the spinning consumer holds its delivery thread forever and never
    // gets the rest; SIGTERM would then end the host with exit code 1.
    let env = Env::new();
    faults(&env);
    let config = ids_consumer(signalled_host(2000), "spinner", json!({ "fault": "hang", "at": 1, "once": true }))
        .isolated(3, "100ms..1s")
        .set("hook_timeout", "1s");
    env.write_config(&config);
    let mut running = env.spawn();
    let host = running.pid().as_raw();
    let report = running.wait_for_line("hook_timeout");
    assert!(
        report.contains("spinner") && report.contains("on_events"),
        "the line names the instance and the hook: {report}"
    );
    eventually(SETTLE_LIMIT, "the restarted consumer to get all 2000 events", || {
        lines(&env, "spinner.ids").len() >= 2000
    });
    let (out, took) = terminate(running);
    out.expect_code(0);
    assert!(took < DRAIN + MARGIN, "exit took {took:?} after SIGTERM, drain_timeout is {DRAIN:?}");
    got_every_sequence_event(&env, "spinner", 2000);
    ran_in_workers(&env, "spinner", 2, host);
    digest_is_exact(&env, "digest.json", 2000, 64);
}

#[test]
fn a_consumer_that_hangs_in_on_create_is_killed_and_restarted() {
    // hook_timeout covers on_create too: without it the host would wait for ever to start.
    let env = Env::new();
    faults(&env);
    let config = Config::sequence(C, json!({ "count": 1000, "payload_bytes": 64 })).digest();
    let config = ids_consumer(config, "spinner", json!({ "fault": "hang_create", "once": true }))
        .isolated(3, "100ms..1s")
        .set("hook_timeout", "1s");
    env.write_config(&config);
    let running = env.spawn();
    let host = running.pid().as_raw();
    let out = running.wait();
    out.expect_code(0);
    let reports = lines_with_all(&out.stderr, &["ERROR", "spinner", "on_create", "hook_timeout"]);
    assert_eq!(reports.len(), 1, "the hang is reported once, naming the hook and the key:\n{}", out.stderr);
    got_every_sequence_event(&env, "spinner", 1000);
    ran_in_workers(&env, "spinner", 2, host);
    digest_is_exact(&env, "digest.json", 1000, 64);
}

#[test]
fn sigterm_stops_the_host_within_drain_timeout_while_a_consumer_hangs_again_and_again() {
    let env = Env::new();
    faults(&env);
    let config = ids_consumer(signalled_host(500), "spinner", json!({ "fault": "hang", "at": 1 }))
        .isolated(50, "100ms..200ms")
        .set("hook_timeout", "1s");
    env.write_config(&config);
    let mut running = env.spawn();
    let host = running.pid().as_raw();
    running.wait_for_line("hook_timeout");
    eventually(SETTLE_LIMIT, "a second worker", || pids(&env, "spinner").len() >= 2);
    let workers: Vec<Process> = pids(&env, "spinner").into_iter().filter_map(Process::of).collect();
    let (out, took) = terminate(running);
    assert!(took < DRAIN + MARGIN, "exit took {took:?} after SIGTERM, drain_timeout is {DRAIN:?}\n{}", out.stderr);
    out.expect_code(1);
    assert!(workers.iter().all(|worker| worker.ppid == host), "it ran in workers of the host: {workers:?}");
    digest_is_exact(&env, "digest.json", 500, 64);
    assert!(lines(&env, "spinner.ids").is_empty(), "it never handled an event");
    eventually(Duration::from_secs(2), "the workers to end with the host", || !workers.iter().any(alive));
}

#[test]
fn a_consumer_past_max_memory_is_killed_and_reported_out_of_memory() {
    // The host itself runs under a cap too (ulimit -v): were max_memory not enforced, the
    // worker would stop growing at that cap or at the fixture's own 768 MiB, and this fails.
    let env = Env::new();
    faults(&env);
    let config = Config::sequence(C, json!({ "count": 1000, "payload_bytes": 64 })).digest();
    let config = ids_consumer(config, "hog", json!({ "fault": "grow", "at": 1, "once": true }))
        .isolated(3, "100ms..1s")
        .set("max_memory", "64MiB");
    env.write_config(&config);
    let running = env.spawn_capped(MEMORY_CAP_KIB);
    let host = running.pid().as_raw();
    let out = running.wait();
    out.expect_code(0);
    let reports = lines_with_all(&out.stderr, &["hog", "out of memory"]);
    assert!(!reports.is_empty(), "the kill is reported as out of memory:\n{}", out.stderr);
    assert!(env.path("hog.ids.fired").exists(), "the fault fired");
    got_every_sequence_event(&env, "hog", 1000);
    ran_in_workers(&env, "hog", 2, host);
    digest_is_exact(&env, "digest.json", 1000, 64);
}

#[test]
fn kill_9_of_the_host_leaves_no_worker_behind() {
    let env = Env::new();
    faults(&env);
    let config = signalled_host(100).isolated(3, "100ms..1s");
    let config = ids_consumer(config, "c-ids", json!({})).isolated(3, "100ms..1s");
    let config = config
        .consumer("go-ids", GO_FIXTURES)
        .plugin("ids")
        .config(json!({ "ids": "go-ids.ids", "pids": "go-ids.pids" }))
        .isolated(3, "100ms..1s");
    env.write_config(&config);
    let mut running = env.spawn();
    let host = running.pid().as_raw();
    running.wait_for_line("evhost is running");
    eventually(SETTLE_LIMIT, "both isolated consumers to get every event", || {
        lines(&env, "c-ids.ids").len() >= 100 && lines(&env, "go-ids.ids").len() >= 100
    });
    let workers: Vec<i32> =
        ["idle", "c-ids", "go-ids"].iter().flat_map(|name| ran_in_workers(&env, name, 1, host)).collect();
    let children = children(host);
    for worker in &workers {
        assert!(
            children.iter().any(|child| child.pid == *worker),
            "worker {worker} is a child of the host {host}: {children:?}"
        );
    }

    running.signal(Signal::SIGKILL);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while children.iter().any(alive) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let left: Vec<&Process> = children.iter().filter(|child| alive(child)).collect();
    for child in &left {
        // The test's own clean-up, so a failure does not leave them running.
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.pid), Signal::SIGKILL);
    }
    assert!(left.is_empty(), "5 s after kill -9 of the host these of its children still run: {left:?}");
    let out = running.wait();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(Signal::SIGKILL as i32),
        "{}",
        out.stderr
    );
}

/// What the open descriptors of `pid` from 3 up point at (`socket:[inode]`, a path, ...).
fn descriptors(pid: i32) -> Vec<String> {
    let mut targets = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).expect("the process's descriptors") {
        let entry = entry.expect("a descriptor");
        let fd: i32 = entry.file_name().to_str().and_then(|name| name.parse().ok()).expect("a number");
        if let (true, Ok(target)) = (fd >= 3, std::fs::read_link(entry.path())) {
            targets.push(target.display().to_string());
        }
    }
    targets
}

#[test]
fn a_worker_holds_none_of_the_hosts_files() {
    // The host holds the disk log's files, the admin endpoint's listening socket and the
    // dead-letter file; a worker inheriting one could write to it, or keep the port open.
    let env = Env::new();
    faults(&env);
    let config = Config::new()
        .table("admin", json!({ "listen": format!("127.0.0.1:{}", free_port()) }))
        .table("log", json!({ "kind": "disk", "path": "evlog" }))
        .producer("seq", C)
        .plugin("sequence")
        .config(json!({ "count": 100, "payload_bytes": 64 }));
    let config = idle_producer(config);
    let config = ids_consumer(config, "c-ids", json!({})).isolated(3, "100ms..1s").set("dead_letter", "dlq.jsonl");
    env.write_config(&config);
    let mut running = env.spawn();
    let host = running.pid().as_raw();
    running.wait_for_line("evhost is running");
    eventually(SETTLE_LIMIT, "the isolated consumer to get every event", || lines(&env, "c-ids.ids").len() >= 100);
    let worker = ran_in_workers(&env, "c-ids", 1, host)[0];
    let held = descriptors(host);
    assert!(held.iter().any(|target| target.contains("evlog")), "the host holds the log's files: {held:?}");
    let inherited = descriptors(worker);
    assert!(
        inherited.len() <= 2 && inherited.iter().all(|target| target.starts_with("socket:") && !held.contains(target)),
        "beside stdin, stdout and stderr the worker holds its own end of the channel and nothing of the host's: {inherited:?} (the host: {held:?})"
    );
    let (out, _) = terminate(running);
    out.expect_code(0);
}
