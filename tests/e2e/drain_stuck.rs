//! Shutdown with producers that do not stop, in process: one that ignores the stop in
//! `on_run`, one whose `on_stop` never returns. They have half the drain timeout; then each
//! is named with its library and the hook it is in, the log closes to them, and the healthy
//! consumer still gets every event the log accepted and drains: only the producers are blamed.
//! A producer that stops in time on its stop thread is still destroyed before the exit.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::json;

use crate::config::Config;
use crate::faults::{lines, lines_with_all};
use crate::fixture::c_plugin;
use crate::slow_fixture::{slow_library, SLOW};
use crate::support::{drained, eventually, Env, SETTLE_LIMIT};

#[test]
fn producers_that_do_not_stop_are_named_and_the_consumer_still_drains_everything() {
    let env = Env::new();
    slow_library(&env);
    // 2000 events at 20 a batch and 20 ms a batch: the consumer needs about 2 s, more than
    // it has before SIGTERM, less than the drain timeout.
    let config = Config::new()
        .table("host", json!({ "drain_timeout": "6s" }))
        .producer("stubborn", SLOW)
        .plugin("stubborn")
        .config(json!({ "name": "stubborn", "count": 2000 }))
        .producer("starter", SLOW)
        .plugin("starter")
        .config(json!({ "name": "starter", "hang_stop": true }))
        .consumer("slow", SLOW)
        .plugin("slow")
        .config(json!({ "name": "slow", "sleep_ms": 20 }))
        .set("batch", 20);
    env.write_config(&config);
    let mut running = env.spawn();
    running.wait_for_line("evhost is running");
    eventually(SETTLE_LIMIT, "on_start to run", || !lines(&env, "starter.started").is_empty());
    eventually(SETTLE_LIMIT, "the consumer to begin", || !lines(&env, "slow.ids").is_empty());
    running.signal(Signal::SIGTERM);
    let signalled = Instant::now();
    let out = running.wait();
    let took = signalled.elapsed();
    // Half the drain timeout for the producers, and the consumer had caught up by then.
    assert!(took < Duration::from_secs(5), "exit took {took:?}; the drain timeout is 6s\n{}", out.stderr);
    out.expect_code(1);
    let expected: Vec<String> = (0..2000).map(|k| k.to_string()).collect();
    assert_eq!(lines(&env, "slow.ids"), expected, "every event the log accepted, once, in order");
    assert_eq!(drained(&out.stderr, "slow", "delivered"), 2000);
    assert!(!out.stderr.contains("did not drain"), "the consumer is not blamed:\n{}", out.stderr);
    let failure = lines_with_all(&out.stderr, &["ERROR", "did not stop"]);
    assert_eq!(failure.len(), 1, "{}", out.stderr);
    let (_, message) = failure[0].split_once("ERROR ").expect("a log line");
    insta::assert_snapshot!("producers_that_do_not_stop", message.replace("; producer", ";\nproducer"));
}

#[test]
fn a_producer_that_stops_in_time_on_its_stop_thread_is_still_destroyed_before_the_exit() {
    // on_stop takes a while on its thread; on_destroy must still run, after it, before exit.
    let env = Env::new();
    let code = r#"static evh_status create(const evh_create_args *args, void **out) { (void)args; *out = NULL; return EVH_OK; }
static evh_status start(void *self) { (void)self; return EVH_OK; }
static void stop(void *self) { (void)self; sleep_ms(300); fprintf(stderr, "on_stop returned\n"); }
static void destroy(void *self) { (void)self; fprintf(stderr, "on_destroy ran\n"); }
"#;
    let hooks = [("on_create", "create"), ("on_destroy", "destroy"), ("on_start", "start"), ("on_stop", "stop")];
    env.compile_library("libpolite.so", &c_plugin("EVH_KIND_PRODUCER", "polite", &hooks, code));
    env.write_config(&Config::new().producer("p", "libpolite.so"));
    let mut running = env.spawn();
    running.wait_for_line("evhost is running");
    running.signal(Signal::SIGTERM);
    let out = running.wait();
    out.expect_code(0);
    let stopped = out.stderr.find("on_stop returned").unwrap_or_else(|| panic!("no on_stop:\n{}", out.stderr));
    let destroyed = out.stderr.find("on_destroy ran").unwrap_or_else(|| panic!("no on_destroy:\n{}", out.stderr));
    assert!(stopped < destroyed, "{}", out.stderr);
}
