//! A crash in a plugin still kills the host (containment is the isolation's job), but never
//! silently: one line on stderr names the signal, the instance, the library and the hook,
//! and the process dies of the same signal. With a Go library loaded too, whose runtime
//! forwards the crash of C code to the host's handler.

use std::os::unix::process::ExitStatusExt;

use nix::sys::signal::Signal;
use serde_json::json;

use crate::config::Config;
use crate::fixture::{c_plugin, EVENTS_OK};
use crate::support::{Env, Output, C, GO};

/// A consumer that segfaults in `on_create`.
const SEGV_IN_CREATE: &str = "static evh_status create(const evh_create_args *a, void **o) { (void)a; *o = NULL; volatile int *p = NULL; *p = 1; return EVH_OK; }\n";

/// Asserts the process died of `signal` and returns its `error:` line.
fn died_of(out: &Output, signal: Signal, env: &Env) -> String {
    assert_eq!(
        out.status.signal(),
        Some(signal as i32),
        "expected death by {signal}: {:?}\nstderr:\n{}",
        out.status,
        out.stderr
    );
    let lines: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(lines.len(), 1, "one line names the crash:\n{}", out.stderr);
    env.redact(lines[0])
}

fn segv_in_create(env: &Env) {
    let code = format!("{SEGV_IN_CREATE}{EVENTS_OK}");
    env.compile_library(
        "libcrash.so",
        &c_plugin("EVH_KIND_CONSUMER", "crash", &[("on_create", "create"), ("on_events", "events")], &code),
    );
}

#[test]
fn segfault_in_on_create_during_check() {
    let env = Env::new();
    segv_in_create(&env);
    env.write_config(&Config::new().consumer("boom", "libcrash.so"));
    let out = env.evhost(&["check", "-c", "evhost.toml"]);
    insta::assert_snapshot!("segv_on_create", died_of(&out, Signal::SIGSEGV, &env));
}

#[test]
fn segfault_in_on_create_during_run_with_a_go_library_loaded() {
    let env = Env::new();
    segv_in_create(&env);
    env.write_config(&Config::new().consumer("go", GO).plugin("count").consumer("boom", "libcrash.so"));
    let line = died_of(&env.run(), Signal::SIGSEGV, &env);
    assert_eq!(
        line,
        "error: SIGSEGV while consumer \"boom\" (libcrash.so) was in on_create; the process dies of this signal"
    );
}

#[test]
fn abort_in_on_events_during_run() {
    let env = Env::new();
    let code = "static evh_status create(const evh_create_args *a, void **o) { (void)a; *o = NULL; return EVH_OK; }\nstatic evh_status events(void *s, const evh_event *const *e, size_t n, size_t *h) { (void)s; (void)e; (void)n; (void)h; abort(); }\n";
    env.compile_library(
        "libabort.so",
        &c_plugin("EVH_KIND_CONSUMER", "abort", &[("on_create", "create"), ("on_events", "events")], code),
    );
    env.write_config(
        &Config::sequence(C, json!({ "count": 10 }))
            .consumer("quitter", "libabort.so")
            .consumer("go", GO)
            .plugin("count"),
    );
    insta::assert_snapshot!("abort_on_events", died_of(&env.run(), Signal::SIGABRT, &env));
}

#[test]
fn a_crash_on_a_plugin_thread_still_names_the_signal() {
    // The plugin's own thread crashes while the host waits in on_create: no hook runs on
    // the crashing thread, so the line says so.
    let env = Env::new();
    let code = format!(
        "static void *crash(void *arg) {{ (void)arg; volatile int *p = NULL; *p = 1; return NULL; }}\nstatic evh_status create(const evh_create_args *a, void **o) {{ (void)a; *o = NULL; pthread_t t; pthread_create(&t, NULL, crash, NULL); pthread_join(t, NULL); return EVH_OK; }}\n{EVENTS_OK}"
    );
    env.compile_library(
        "libthread.so",
        &c_plugin("EVH_KIND_CONSUMER", "thread", &[("on_create", "create"), ("on_events", "events")], &code),
    );
    env.write_config(&Config::new().consumer("t", "libthread.so"));
    insta::assert_snapshot!("outside_a_hook", died_of(&env.run(), Signal::SIGSEGV, &env));
}
