//! Signals always work. A plugin stuck while its library loads, in `on_create`, or in a
//! producer's `on_stop` at shutdown cannot make the host ignore SIGTERM/SIGINT: the first
//! signal asks for an orderly stop, and a second one, or the drain timeout after the first,
//! ends the process with exit code 1 and a line naming the instance, library and hook.

use nix::sys::signal::Signal;
use serde_json::{json, Value};

use crate::config::Config;
use crate::fixture::{c_plugin, redact_seconds, EVENTS_OK};
use crate::support::{Env, Output};

/// The `error:` lines of a run, with the seconds redacted.
fn errors(out: &Output) -> String {
    let lines: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    redact_seconds(&lines.join("\n"))
}

/// Runs until stderr shows `started`, sends `first`, waits for `stuck`, sends `second`;
/// the host must give up with exit code 1.
fn signalled_twice(env: &Env, started: &str, first: Signal, stuck: &str, second: Signal) -> Output {
    let mut running = env.spawn();
    running.wait_for_line(started);
    running.signal(first);
    running.wait_for_line(stuck);
    running.signal(second);
    let out = running.wait();
    out.expect_code(1);
    out
}

/// A consumer whose `on_create` logs "creating", then runs `then`.
fn creating_then(env: &Env, file: &str, then: &str) {
    let code = format!(
        "static evh_status create(const evh_create_args *args, void **out) {{ *out = NULL; say(args, STR(\"creating\")); {then} return EVH_OK; }}\n{EVENTS_OK}"
    );
    env.compile_library(
        file,
        &c_plugin("EVH_KIND_CONSUMER", "stuck", &[("on_create", "create"), ("on_events", "events")], &code),
    );
}

#[test]
fn run_stuck_in_on_create_gives_up_on_the_second_sigterm() {
    let env = Env::new();
    creating_then(&env, "libhang.so", "forever();");
    env.write_config(&Config::new().consumer("hang", "libhang.so"));
    let out = signalled_twice(&env, "creating", Signal::SIGTERM, "ends the process at once", Signal::SIGTERM);
    insta::assert_snapshot!("run_on_create_twice", errors(&out));
}

#[test]
fn check_stuck_in_on_create_gives_up_at_the_drain_timeout() {
    // The plugin sends the host one SIGINT and hangs; nothing else happens.
    let env = Env::new();
    creating_then(&env, "libhang.so", "kill(getpid(), SIGINT); forever();");
    env.write_config(&Config::new().table("host", json!({ "drain_timeout": "1s" })).consumer("hang", "libhang.so"));
    let started = std::time::Instant::now();
    let out = env.evhost(&["check", "-c", "evhost.toml"]);
    out.expect_code(1);
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "gave up late: {:?}", started.elapsed());
    assert_eq!(out.stdout, "", "a check that did not finish says no OK");
    insta::assert_snapshot!("check_on_create_deadline", errors(&out));
}

#[test]
fn stuck_in_evh_library_init() {
    let env = Env::new();
    let source = c_plugin("EVH_KIND_CONSUMER", "x", &[("on_create", "create"), ("on_events", "events")], &format!("static evh_status create(const evh_create_args *a, void **o) {{ (void)a; *o = NULL; return EVH_OK; }}\n{EVENTS_OK}"))
        .replace("    (void)api;\n    *out = &library;", "    api->log(NULL, EVH_LOG_INFO, STR(\"initializing\"));\n    forever();\n    *out = &library;");
    env.compile_library("libinit.so", &source);
    env.write_config(&Config::new().consumer("x", "libinit.so"));
    let out = signalled_twice(&env, "initializing", Signal::SIGINT, "ends the process at once", Signal::SIGTERM);
    insta::assert_snapshot!("evh_library_init", errors(&out));
}

#[test]
fn stuck_in_a_library_constructor() {
    let env = Env::new();
    let code = format!(
        "__attribute__((constructor)) static void hang(void) {{ fprintf(stderr, \"constructing\\n\"); forever(); }}\nstatic evh_status create(const evh_create_args *a, void **o) {{ (void)a; *o = NULL; return EVH_OK; }}\n{EVENTS_OK}"
    );
    env.compile_library(
        "libctor.so",
        &c_plugin("EVH_KIND_CONSUMER", "x", &[("on_create", "create"), ("on_events", "events")], &code),
    );
    env.write_config(&Config::new().consumer("x", "libctor.so"));
    let out = signalled_twice(&env, "constructing", Signal::SIGINT, "ends the process at once", Signal::SIGINT);
    insta::assert_snapshot!("library_constructor", errors(&out));
}

#[test]
fn a_signal_while_checking_stops_with_exit_1() {
    let env = Env::new();
    creating_then(&env, "libsignal.so", "kill(getpid(), SIGTERM); sleep_ms(500);");
    env.write_config(&Config::new().consumer("first", "libsignal.so").consumer("second", "libsignal.so"));
    let out = env.evhost(&["check", "-c", "evhost.toml"]);
    out.expect_code(1);
    assert_eq!(out.stdout, "", "an unfinished check says no OK");
    assert_eq!(out.stderr.matches("creating").count(), 1, "the second instance is not created:\n{}", out.stderr);
    assert!(out.stderr.contains("error: SIGTERM received; the check stopped before it finished"), "{}", out.stderr);
}

#[test]
fn a_signal_while_starting_stops_in_order() {
    // "first" signals the host from on_create and returns; "second" must never be created,
    // and "first" is destroyed: an orderly stop, exit 0.
    let env = Env::new();
    let code = format!(
        r#"static evh_status create(const evh_create_args *args, void **out) {{
    *out = (void *)args->config_dir.ptr;
    if (args->instance_name.len == 5 && memcmp(args->instance_name.ptr, "first", 5) == 0) {{
        kill(getpid(), SIGTERM);
        sleep_ms(500);
        touch(args, "first.created");
    }} else {{
        touch(args, "second.created");
    }}
    return EVH_OK;
}}
static void destroy(void *self) {{ (void)self; fprintf(stderr, "destroyed\n"); }}
{EVENTS_OK}"#
    );
    env.compile_library(
        "libslow.so",
        &c_plugin(
            "EVH_KIND_CONSUMER",
            "slow",
            &[("on_create", "create"), ("on_destroy", "destroy"), ("on_events", "events")],
            &code,
        ),
    );
    env.write_config(&Config::new().consumer("first", "libslow.so").consumer("second", "libslow.so"));
    let out = env.run();
    out.expect_code(0);
    assert!(env.path("first.created").exists(), "{}", out.stderr);
    assert!(!env.path("second.created").exists(), "an instance was created after the signal:\n{}", out.stderr);
    assert!(out.stderr.contains("SIGTERM received while starting; stopped before running"), "{}", out.stderr);
    assert!(out.stderr.contains("destroyed"), "the created instance is destroyed:\n{}", out.stderr);
    assert!(!out.stderr.contains("evhost is running"), "{}", out.stderr);
}

/// A producer whose `on_stop` never returns, with a digest consumer; `host` is the [host] table.
fn stuck_in_on_stop(env: &Env, host: Value) {
    let code = r#"static evh_status create(const evh_create_args *args, void **out) { (void)args; *out = NULL; return EVH_OK; }
static evh_status start(void *self) { (void)self; return EVH_OK; }
static void stop(void *self) { (void)self; fprintf(stderr, "on_stop hangs\n"); forever(); }
"#;
    let hooks = [("on_create", "create"), ("on_start", "start"), ("on_stop", "stop")];
    env.compile_library("libstop.so", &c_plugin("EVH_KIND_PRODUCER", "stuck", &hooks, code));
    env.write_config(&Config::new().table("host", host).producer("p", "libstop.so").digest());
}

#[test]
fn a_producer_stuck_in_on_stop_is_named_at_half_the_drain_timeout() {
    // Its on_stop runs on a thread of its own: the drain goes on without it, and the run
    // ends in order, naming it, once half the drain timeout has passed.
    let env = Env::new();
    stuck_in_on_stop(&env, json!({ "drain_timeout": "2s" }));
    let mut running = env.spawn();
    running.wait_for_line("evhost is running");
    let signalled = std::time::Instant::now();
    running.signal(Signal::SIGTERM);
    let out = running.wait();
    out.expect_code(1);
    let took = signalled.elapsed();
    assert!(took >= std::time::Duration::from_secs(1) && took < std::time::Duration::from_secs(2), "took {took:?}");
    assert!(errors(&out).is_empty(), "the host did not give up: the run ended in order\n{}", out.stderr);
    let failure: Vec<&str> = out.stderr.lines().filter_map(|l| l.split_once("ERROR ")).map(|(_, m)| m).collect();
    insta::assert_snapshot!("producer_on_stop_deadline", failure.join("\n"));
}

#[test]
fn a_producer_stuck_in_on_stop_gives_up_on_the_second_signal() {
    let env = Env::new();
    stuck_in_on_stop(&env, json!({}));
    let out = signalled_twice(&env, "evhost is running", Signal::SIGTERM, "on_stop hangs", Signal::SIGTERM);
    insta::assert_snapshot!("producer_on_stop_twice", errors(&out));
}
