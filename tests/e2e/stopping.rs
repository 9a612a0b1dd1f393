//! Readiness as the host stops and as an isolated consumer restarts: `/readyz` answers 503
//! from the moment a SIGTERM is received, even while the run loop is busy with a reload;
//! during a restart backoff it answers 200 and names the consumer as restarting, not stuck.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::{json, Value};

use crate::admin::get;
use crate::config::Config;
use crate::faults::{faults, ids_consumer, lines, Isolate};
use crate::slow_fixture::{slow_library, SLOW};
use crate::support::{eventually, free_port, Env, C, SETTLE_LIMIT};

/// The sequence of `count` events into consumers `names` (the slow fixture, 20 events a batch
/// at 20 ms a batch: about 1000 events a second), beside an idle producer that keeps the
/// host running until SIGTERM.
fn slow_consumers(port: u16, count: u64, names: &[&str]) -> Config {
    let mut config = Config::new()
        .table("admin", json!({ "listen": format!("127.0.0.1:{port}") }))
        .table("host", json!({ "drain_timeout": "15s" }))
        .producer("seq", C)
        .plugin("sequence")
        .config(json!({ "count": count, "payload_bytes": 16 }))
        .producer("idle", SLOW)
        .plugin("starter")
        .config(json!({ "name": "idle" }));
    for name in names {
        config =
            config.consumer(name, SLOW).plugin("slow").config(json!({ "name": name, "sleep_ms": 20 })).set("batch", 20);
    }
    config
}

#[test]
fn readyz_is_never_200_after_sigterm_even_while_a_reload_runs() {
    let env = Env::new();
    slow_library(&env);
    let port = free_port();
    env.write_config(&slow_consumers(port, 4000, &["gone"]));
    let mut running = env.spawn();
    running.wait_for_line("evhost is running");
    eventually(SETTLE_LIMIT, "/readyz to answer 200", || get(port, "/readyz", None).0 == 200);
    eventually(SETTLE_LIMIT, "the consumer to begin", || !lines(&env, "gone.ids").is_empty());
    // The reload removes the consumer and waits (about 4 s) while it drains what it has: the
    // run loop is busy, and the host stays ready meanwhile.
    env.write_config(&slow_consumers(port, 4000, &[]));
    running.signal(Signal::SIGHUP);
    running.wait_for_line("SIGHUP: reloading");
    assert_eq!(get(port, "/readyz", None).0, 200, "ready while the reload runs");
    running.signal(Signal::SIGTERM);
    running.wait_for_line("SIGTERM received");
    let asked = Instant::now();
    let mut answers = 0;
    while asked.elapsed() < Duration::from_secs(1) {
        let (code, body) = get(port, "/readyz", None);
        assert_eq!(code, 503, "/readyz after SIGTERM was received ({:?} later): {body}", asked.elapsed());
        let body: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(body["state"], "draining", "{body:#}");
        answers += 1;
    }
    assert!(lines(&env, "gone.ids").len() < 4000, "the reload was over before /readyz was asked");
    assert!(answers > 10, "asked only {answers} times");
    let out = running.wait();
    out.expect_code(0);
    assert_eq!(lines(&env, "gone.ids").len(), 4000, "the removed consumer drained everything");
}

#[test]
fn readyz_during_a_restart_backoff_is_200_and_names_the_restart_not_a_stuck_hook() {
    let env = Env::new();
    faults(&env);
    slow_library(&env);
    let port = free_port();
    // The crasher dies on its 10th event, once; its first restart waits 5 to 10 s.
    let config = slow_consumers(port, 100, &[]);
    let config =
        ids_consumer(config, "crasher", json!({ "fault": "segv", "at": 10, "once": true })).isolated(5, "10s..30s");
    env.write_config(&config);
    let mut running = env.spawn();
    running.wait_for_line("restarting it in");
    // Past the 2 s after which a delivery call counts as stuck: the call waits out the backoff.
    std::thread::sleep(Duration::from_millis(2500));
    let (code, body) = get(port, "/readyz", None);
    assert_eq!(code, 200, "a restart is not a failure nor a stuck hook: {body}");
    let body: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(body["ready"], true, "{body:#}");
    let restarting = body["restarting"].as_array().expect("the restarting instances");
    assert_eq!(restarting.len(), 1, "{body:#}");
    assert_eq!((&restarting[0]["instance"], &restarting[0]["kind"]), (&json!("crasher"), &json!("consumer")));
    let reason = restarting[0]["reason"].as_str().expect("a reason");
    let (said, wait) = reason.split_once(", next try in ").expect("when the next try is");
    let wait: f64 = wait.trim_end_matches('s').parse().expect("seconds");
    assert!((1.0..=8.0).contains(&wait), "{reason}");
    insta::assert_snapshot!("readyz_while_restarting", said);
    // /v1/status says the same of the instance.
    let (code, status) = get(port, "/v1/status", None);
    assert_eq!(code, 200, "{status}");
    let status: Value = serde_json::from_str(&status).expect("JSON");
    let instances = status["instances"].as_array().expect("the instances");
    let crasher = instances.iter().find(|i| i["name"] == "crasher").expect("the crasher in /v1/status");
    let restart = crasher["restarting"].as_str().expect("why it is restarting");
    assert!(restart.starts_with(said), "/v1/status: {restart}\n/readyz: {reason}");
    assert!(instances.iter().filter(|i| i.get("restarting").is_some()).count() == 1, "{status:#}");
    // Shutdown ends the backoff: it restarts, gets every event, and the run is clean.
    running.signal(Signal::SIGTERM);
    let out = running.wait();
    out.expect_code(0);
    assert!(lines(&env, "crasher.ids").len() >= 100, "{}", out.stderr);
}
