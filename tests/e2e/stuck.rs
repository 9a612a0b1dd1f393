//! A consumer that never returns from `on_events`: the watchdog moves its neighbours to a
//! new delivery thread, they get every event and drain at shutdown, and the stuck one is
//! named with exit code 1 within the drain timeout. And the watchdog costs an idle host
//! nothing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::json;

use crate::config::Config;
use crate::fixture;
use crate::support::{drained, eventually, Env, Output, Running, C};

const EVENTS: u64 = 100;

/// A host with the C sequence (EVENTS events), the `idle` producer (so it runs until a
/// signal), the fixture consumer stuck on its 10th event, a digest, and as many `count`s as
/// cores: consumers outnumber delivery threads (one per core but one), so the stuck one,
/// listed first, shares its thread with at least one healthy consumer on any machine.
fn stuck_beside_healthy(drain: Duration) -> (Env, usize) {
    let env = Env::new();
    fixture::misbehaving_consumer(&env, "if (seen + n >= 10) { for (;;) sleep(1000); }\nreturn EVH_OK;");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let names: Vec<String> = (0..cores).map(|i| format!("count-{i}")).collect();
    let counts: Vec<(&str, &str)> = names.iter().map(|name| (name.as_str(), C)).collect();
    env.write_config(
        &Config::new()
            .table("host", json!({ "drain_timeout": format!("{}ms", drain.as_millis()) }))
            .producer("seq", C)
            .plugin("sequence")
            .config(json!({ "count": EVENTS, "payload_bytes": 16 }))
            .producer("idle", "libfixture.so")
            .plugin("idle")
            .consumer("stuck", "libfixture.so")
            .plugin("fixture")
            .digest()
            .consumers(&counts, "count", ""),
    );
    (env, cores)
}

/// SIGTERM now; then exit 1 within `drain` (and a margin), every healthy consumer drained
/// with every event and its on_stop output written, and the stuck one named.
fn stop_and_check(env: &Env, running: Running, drain: Duration, cores: usize) -> Output {
    running.signal(Signal::SIGTERM);
    let signalled = Instant::now();
    let out = running.wait();
    let took = signalled.elapsed();
    out.expect_code(1);
    assert!(took < drain + Duration::from_millis(1500), "exit took {took:?} after SIGTERM, drain_timeout is {drain:?}");
    let digest = env.json("digest.json");
    assert_eq!(digest["count"], EVENTS, "{digest}");
    assert_eq!(digest["in_order"], true, "{digest}");
    for i in 0..cores {
        assert_eq!(env.json(&format!("count-{i}.json"))["count"], EVENTS, "count-{i}");
        assert_eq!(drained(&out.stderr, &format!("count-{i}"), "delivered"), EVENTS);
    }
    assert!(
        out.stderr.lines().any(|l| l.contains("ERROR") && l.contains("consumer \"stuck\" is stuck in on_events (for ")),
        "the stuck consumer is named with its hook:\n{}",
        out.stderr
    );
    assert!(out.stderr.contains(&format!("{EVENTS} events were not delivered to it")), "{}", out.stderr);
    assert!(!out.stderr.contains("cleanly"), "{}", out.stderr);
    out
}

#[test]
fn a_stuck_consumer_does_not_stop_its_neighbours() {
    let drain = Duration::from_secs(2);
    let (env, cores) = stuck_beside_healthy(drain);
    let mut running = env.spawn();
    running.wait_for_line("moving the consumers that share its delivery thread");
    let out = stop_and_check(&env, running, drain, cores);
    let warning = out.stderr.lines().find(|l| l.contains("moving the consumers")).expect("the warning");
    assert!(
        warning.contains("WARN") && warning.contains("consumer=stuck") && warning.contains("on_events"),
        "{warning}"
    );
}

#[test]
fn neighbours_of_a_stuck_consumer_drain_even_when_shutdown_comes_first() {
    // SIGTERM before the watchdog's usual threshold, with a drain_timeout shorter than it:
    // shutdown lowers the threshold so the neighbours still move and drain in time.
    let drain = Duration::from_millis(1200);
    let (env, cores) = stuck_beside_healthy(drain);
    let mut running = env.spawn();
    running.wait_for_line("evhost is running");
    std::thread::sleep(Duration::from_millis(100));
    stop_and_check(&env, running, drain, cores);
}

/// The /proc folder of the process's thread named `name`. A thread names itself once it
/// runs, so this waits a little for it.
fn thread(pid: i32, name: &str) -> PathBuf {
    let mut found = None;
    eventually(Duration::from_secs(5), &format!("a thread named {name}"), || {
        found = std::fs::read_dir(format!("/proc/{pid}/task"))
            .expect("the host's threads")
            .map(|task| task.unwrap().path())
            .find(|task| std::fs::read_to_string(task.join("comm")).is_ok_and(|comm| comm.trim() == name));
        found.is_some()
    });
    found.expect("found")
}

/// The voluntary context switches of a thread: how often it went to sleep.
fn switches(thread: &Path) -> u64 {
    let status = std::fs::read_to_string(thread.join("status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("voluntary_ctxt_switches:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn the_watchdog_sleeps_while_the_host_is_idle() {
    let env = Env::new();
    fixture::misbehaving_consumer(&env, "return EVH_OK;");
    env.write_config(&Config::new().producer("idle", "libfixture.so").plugin("idle").digest());
    let mut running = env.spawn();
    running.wait_for_line("evhost is running");
    let watchdog = thread(running.pid().as_raw(), "watchdog");
    // Let it reach its first sleep.
    std::thread::sleep(Duration::from_millis(100));
    let before = switches(&watchdog);
    std::thread::sleep(Duration::from_millis(1500));
    let after = switches(&watchdog);
    running.signal(Signal::SIGTERM);
    running.wait().expect_code(0);
    assert_eq!(after, before, "the watchdog woke {} times while nothing happened", after - before);
}
