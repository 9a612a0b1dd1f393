//! The process lifecycle: SIGTERM/SIGINT stop producers, drain consumers and exit 0; the
//! command line's own exit codes.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::{json, Value};

use crate::config::Config;
use crate::support::{Env, C, CPP, GO, RUST};

/// A producer that would run for hours, and digest consumers `(name, library)`.
fn endless(producer_library: &str, consumers: &[(&str, &str)]) -> Env {
    Env::with(
        &Config::new()
            .table("log", json!({ "capacity": 1024 }))
            .table("host", json!({ "drain_timeout": "10s" }))
            .producer("seq", producer_library)
            .plugin("sequence")
            .config(json!({ "count": 1_000_000_000_000u64, "payload_bytes": 32 }))
            .consumers(consumers, "digest", ""),
    )
}

/// Starts the run, lets events flow, sends `signal`, and checks the drained results.
fn stops_cleanly_on(signal: Signal, env: &Env, consumers: &[(&str, &str)]) {
    let mut running = env.spawn();
    running.wait_for_line("evhost is running");
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    running.signal(signal);
    let out = running.wait();
    let took = sent.elapsed();
    out.expect_code(0);
    assert!(took < Duration::from_secs(5), "took {took:?} to stop after {signal}:\n{}", out.stderr);
    assert!(out.stderr.contains(&format!("{} received", signal.as_str())), "{}", out.stderr);
    assert!(out.stderr.contains("evhost stopped cleanly"), "{}", out.stderr);
    let results: Vec<(&str, Value)> =
        consumers.iter().map(|(name, _)| (*name, env.json(&format!("{name}.json")))).collect();
    let (first, reference) = &results[0];
    let count = reference["count"].as_u64().expect("a count");
    assert!(count > 0, "no events flowed before the signal: {reference}");
    for (name, result) in &results {
        assert_eq!(result["in_order"], true, "{name}: {result}");
        // Every consumer drained everything the log accepted: same count, same digest.
        assert_eq!(result, reference, "{name} and {first} saw different events");
    }
}

#[test]
fn sigterm_stops_producers_and_drains_consumers() {
    let consumers = [("c", C), ("rust", RUST)];
    let env = endless(C, &consumers);
    stops_cleanly_on(Signal::SIGTERM, &env, &consumers);
}

#[test]
fn sigint_stops_producers_and_drains_consumers() {
    let consumers = [("c", C), ("cpp", CPP)];
    let env = endless(RUST, &consumers);
    stops_cleanly_on(Signal::SIGINT, &env, &consumers);
}

#[test]
fn sigterm_with_a_go_runtime_loaded() {
    // Go installs its own signal handlers; the host must still get SIGTERM and drain.
    let consumers = [("go", GO), ("c", C)];
    let env = endless(GO, &consumers);
    stops_cleanly_on(Signal::SIGTERM, &env, &consumers);
}

#[test]
fn help_exits_0() {
    let out = Env::new().evhost(&["--help"]);
    out.expect_code(0);
    for command in ["run", "check", "inspect"] {
        assert!(out.stdout.contains(command), "--help lists `{command}`:\n{}", out.stdout);
    }
}

#[test]
fn unknown_subcommand_exits_2() {
    let out = Env::new().evhost(&["frobnicate"]);
    out.expect_code(2);
    assert!(out.stderr.contains("frobnicate"), "{}", out.stderr);
}

#[test]
fn no_subcommand_exits_2() {
    Env::new().evhost(&[]).expect_code(2);
}

#[test]
fn a_finite_run_exits_0_by_itself() {
    let env = Env::with(&Config::sequence_into_digest(json!({ "count": 10 })));
    let out = env.run();
    out.expect_code(0);
    assert!(out.stderr.contains("producer finished"), "{}", out.stderr);
    assert_eq!(env.json("digest.json")["count"], 10);
}

#[test]
fn a_producer_thread_that_emits_after_on_destroy_never_crashes_the_host() {
    // "leaky" leaves a thread behind that calls every host callback in a loop, before and
    // after on_destroy; "slow" is destroyed after it and takes its time, so the leftover
    // thread surely calls a dead handle. The handle must answer, not crash, run after run.
    let env = Env::new();
    let code = r#"
static const evh_host_api *api;
static evh_host *leaky;
static volatile int destroyed;
static void *keep_calling(void *arg) {
    (void)arg;
    evh_event e = {0};
    e.struct_size = sizeof e;
    e.id = STR("1");
    e.source = STR("/after");
    e.type = STR("after.destroy");
    for (;;) {
        int after = destroyed;
        evh_status s = api->emit(leaky, &e, 1, EVH_EMIT_NONBLOCK);
        api->set_error(leaky, STR("still here"));
        if (after) {
            api->log(leaky, EVH_LOG_ERROR, STR("logged after on_destroy"));
            if (s != EVH_STOPPED || !api->stop_requested(leaky)) {
                fprintf(stderr, "after on_destroy: emit answered %d\n", (int)s);
            }
        }
    }
    return NULL;
}
static evh_status create(const evh_create_args *args, void **out) {
    int is_leaky = args->instance_name.len == 5 && memcmp(args->instance_name.ptr, "leaky", 5) == 0;
    *out = (void *)(size_t)is_leaky;
    if (is_leaky) {
        api = args->api;
        leaky = args->host;
        pthread_t t;
        pthread_create(&t, NULL, keep_calling, NULL);
        pthread_detach(t);
    }
    return EVH_OK;
}
static evh_status run(void *self) { (void)self; return EVH_OK; }
/* "slow" is destroyed after "leaky"'s on_destroy has returned: from then on the handle is dead. */
static void destroy(void *self) {
    if (!self) {
        destroyed = 1;
        sleep_ms(200);
    }
}
"#;
    env.compile_library(
        "libleaky.so",
        &crate::fixture::c_plugin(
            "EVH_KIND_PRODUCER",
            "leaky",
            &[("on_create", "create"), ("on_run", "run"), ("on_destroy", "destroy")],
            code,
        ),
    );
    env.write_config(&Config::new().producer("leaky", "libleaky.so").producer("slow", "libleaky.so").digest());
    for run in 1..=7 {
        let out = env.run();
        assert_eq!(out.status.code(), Some(0), "run {run}: {:?}\nstderr:\n{}", out.status, out.stderr);
        assert!(!out.stderr.contains("after on_destroy"), "run {run}: a dead handle did something:\n{}", out.stderr);
    }
}
