//! Reloads never overlap and are never dropped: one that comes during another (SIGHUP or
//! POST) waits its turn, one that comes while the host starts runs once it runs, and a POST
//! that comes once a stop began is answered 503.

use nix::sys::signal::Signal;
use serde_json::json;

use crate::fixture::{c_plugin, EVENTS_OK};
use crate::reload::{file, instances, post_reload, start, stop, ticker};
use crate::support::{eventually, free_port, Env, SETTLE_LIMIT};

/// A consumer whose on_create says so and then takes 1.5 s: a reload that creates it is
/// still running when the test sends the next one.
fn slow_create(env: &Env) -> String {
    let code = format!(
        "static int me;\nstatic evh_status create(const evh_create_args *args, void **out) {{ say(args, STR(\"slow create begins\")); sleep_ms(1500); *out = &me; return EVH_OK; }}\n{EVENTS_OK}"
    );
    let source = c_plugin("EVH_KIND_CONSUMER", "slow", &[("on_create", "create"), ("on_events", "events")], &code);
    env.compile_library("libslow.so", &source).display().to_string()
}

#[test]
fn two_sighups_in_a_row_both_happen() {
    let env = Env::new();
    let slow = slow_create(&env);
    let base = || file(ticker(2000), "a", json!({})).consumer("slow", &slow);
    env.write_config(&file(ticker(2000), "a", json!({})));
    let (mut host, port) = start(&env);
    env.write_config(&base());
    host.signal(Signal::SIGHUP);
    // The first reload has read the file and is creating "slow": the second comes now.
    host.wait_for_line("slow create begins");
    env.write_config(&file(base(), "b", json!({})));
    host.signal(Signal::SIGHUP);
    host.wait_for_line("reloaded");
    host.wait_for_line("reloaded");
    assert_eq!(instances(port), ["a", "slow", "b", "tick"]);
    eventually(SETTLE_LIMIT, "b to receive events", || env.lines_so_far("b.jsonl") >= 10);
    stop(host);
}

#[test]
fn a_post_during_a_reload_waits_its_turn() {
    let env = Env::new();
    let slow = slow_create(&env);
    let base = || file(ticker(2000), "a", json!({})).consumer("slow", &slow);
    env.write_config(&file(ticker(2000), "a", json!({})));
    let (mut host, port) = start(&env);
    env.write_config(&base());
    let first = std::thread::spawn(move || post_reload(port));
    host.wait_for_line("slow create begins");
    env.write_config(&file(base(), "b", json!({})));
    let second = std::thread::spawn(move || post_reload(port));
    let ((code1, summary1), (code2, summary2)) = (first.join().unwrap(), second.join().unwrap());
    assert_eq!((code1, code2), (200, 200));
    assert_eq!((&summary1["added"], &summary2["added"]), (&json!(["slow"]), &json!(["b"])));
    // The second found the first's "slow" running: it ran after the first, not beside it.
    assert_eq!(summary2["unchanged"], json!(["a", "slow", "tick"]));
    eventually(SETTLE_LIMIT, "b to receive events", || env.lines_so_far("b.jsonl") >= 10);
    stop(host);
}

#[test]
fn a_sighup_while_starting_is_kept_and_runs_once_running() {
    let env = Env::new();
    let slow = slow_create(&env);
    env.write_config(&file(ticker(1000), "a", json!({})).consumer("slow", &slow));
    let port = free_port();
    let mut host = env.start(&["run", "-c", "evhost.toml", "--admin", &format!("127.0.0.1:{port}")]);
    host.wait_for_line("slow create begins");
    env.write_config(&file(file(ticker(1000), "a", json!({})).consumer("slow", &slow), "b", json!({})));
    host.signal(Signal::SIGHUP);
    host.wait_for_line("evhost is running");
    host.wait_for_line("reloaded");
    assert_eq!(instances(port), ["a", "slow", "b", "tick"]);
    stop(host);
}

#[test]
fn a_reload_asked_for_after_a_stop_began_is_answered_503() {
    let env = Env::new();
    let slow = slow_create(&env);
    env.write_config(&file(ticker(1000), "a", json!({})));
    let (mut host, port) = start(&env);
    env.write_config(&file(ticker(1000), "a", json!({})).consumer("slow", &slow));
    let first = std::thread::spawn(move || post_reload(port));
    host.wait_for_line("slow create begins");
    host.signal(Signal::SIGTERM);
    host.wait_for_line("note: SIGTERM received; stopping");
    let (code, body) = post_reload(port);
    assert_eq!((code, &body["error"]), (503, &json!("the host is stopping; the reload was not run")));
    let (code, summary) = first.join().unwrap();
    assert_eq!((code, &summary["added"]), (200, &json!(["slow"])), "the reload under way finished first");
    host.wait().expect_code(0);
}
