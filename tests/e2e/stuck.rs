//! A consumer that never returns from `on_events`: the watchdog moves its neighbours to a
//! new delivery thread, they get every event and drain at shutdown, and the stuck one is
//! named with exit code 1 within the drain timeout. And the watchdog costs an idle host
//! nothing.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::fixtures;
use crate::support::{drained, Env};

const EVENTS: u64 = 100;
const DRAIN: Duration = Duration::from_secs(2);

#[test]
fn a_stuck_consumer_does_not_stop_its_neighbours() {
    let env = Env::new();
    fixtures::library(&env, "if (seen + n >= 10) { for (;;) sleep(1000); }\nreturn EVH_OK;");
    // Consumers outnumber delivery threads (one per core but one), so the stuck one, listed
    // first, shares its thread with at least one healthy `count`, on any machine.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let counts: String = (0..cores)
        .map(|i| format!("[[consumer]]\nname = \"count-{i}\"\nlibrary = \"{{C}}\"\nplugin = \"count\"\nconfig = {{ path = \"count-{i}.json\" }}\n"))
        .collect();
    env.config(&format!(
        r#"
[host]
drain_timeout = "{}s"

[[producer]]
name = "seq"
library = "{{C}}"
plugin = "sequence"
config = {{ count = {EVENTS}, payload_bytes = 16 }}

[[producer]]
name = "idle"
library = "libfixture.so"
plugin = "idle"

[[consumer]]
name = "stuck"
library = "libfixture.so"
plugin = "fixture"

[[consumer]]
name = "digest"
library = "{{C}}"
plugin = "digest"
config = {{ path = "digest.json" }}

{counts}
"#,
        DRAIN.as_secs()
    ));
    let mut running = env.spawn();
    running.wait_for_line("moving the consumers that share its delivery thread");
    running.signal(Signal::SIGTERM);
    let signalled = Instant::now();
    let out = running.wait();
    let took = signalled.elapsed();
    out.expect_code(1);
    assert!(took < DRAIN + Duration::from_secs(1), "exit took {took:?} after SIGTERM, drain_timeout is {DRAIN:?}");

    let warning = out.stderr.lines().find(|l| l.contains("moving the consumers")).expect("the warning");
    assert!(
        warning.contains("WARN") && warning.contains("consumer=stuck") && warning.contains("on_events"),
        "{warning}"
    );
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
}

/// Voluntary context switches of the process's thread named `name`.
fn switches(pid: i32, name: &str) -> u64 {
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("the host's threads") {
        let task = task.unwrap().path();
        if std::fs::read_to_string(task.join("comm")).unwrap().trim() != name {
            continue;
        }
        let status = std::fs::read_to_string(task.join("status")).unwrap();
        let line = status.lines().find(|l| l.starts_with("voluntary_ctxt_switches:")).unwrap();
        return line.split_whitespace().nth(1).unwrap().parse().unwrap();
    }
    panic!("no thread named {name}");
}

#[test]
fn the_watchdog_sleeps_while_the_host_is_idle() {
    let env = Env::new();
    fixtures::library(&env, "return EVH_OK;");
    env.config(
        r#"
[[producer]]
name = "idle"
library = "libfixture.so"
plugin = "idle"

[[consumer]]
name = "digest"
library = "{C}"
plugin = "digest"
config = { path = "digest.json" }
"#,
    );
    let mut running = env.spawn();
    running.wait_for_line("evhost is running");
    let pid = running.pid().as_raw();
    let before = switches(pid, "watchdog");
    std::thread::sleep(Duration::from_millis(1500));
    let after = switches(pid, "watchdog");
    running.signal(Signal::SIGTERM);
    running.wait().expect_code(0);
    assert_eq!(after, before, "the watchdog woke {} times while nothing happened", after - before);
}
