//! Reloads that change nothing: a config that does not parse or whose new instance's
//! `on_create` fails, a change of what needs a restart, a replaced Go library; the token
//! and the method; and a removed consumer stuck in a hook, which the reload leaves behind.

use serde_json::{json, Value};

use crate::config::Config;
use crate::reload::{file, get, ids, instances, post_reload, run_of, start, stop, ticker};
use crate::support::{eventually, free_port, Env, GO, SETTLE_LIMIT};

#[test]
fn a_bad_config_changes_nothing_and_the_post_returns_the_diagnostic() {
    let env = Env::new();
    let good = file(ticker(2000), "a", json!({}));
    env.write_config(&good);
    let (mut host, port) = start(&env);
    eventually(SETTLE_LIMIT, "a to receive events", || env.lines_so_far("a.jsonl") >= 20);

    // The new consumer's on_create refuses its config: checked before anything changed.
    env.write_config(&file(good, "b", json!({ "fsync": "always" })));
    let (code, body) = post_reload(port);
    assert_eq!((code, &body["reloaded"]), (422, &json!(false)), "{body:#}");
    insta::assert_snapshot!("bad_plugin_config", env.redact(body["diagnostic"].as_str().unwrap()));
    host.wait_for_line("reload refused; the running instances are unchanged");
    // A config that does not parse.
    env.write("evhost.toml", &std::fs::read_to_string(env.path("evhost.toml")).unwrap().replace("library", "librari"));
    let (code, body) = post_reload(port);
    assert_eq!(code, 422);
    insta::assert_snapshot!("bad_toml", env.redact(body["diagnostic"].as_str().unwrap()));

    assert_eq!(instances(port), ["a", "tick"]);
    assert!(!env.path("b.jsonl").exists());
    let now = env.lines_so_far("a.jsonl");
    eventually(SETTLE_LIMIT, "a to go on", || env.lines_so_far("a.jsonl") >= now + 50);
    let metrics = get(port, "/metrics");
    assert!(
        metrics.contains("evhost_reloads_total{result=\"ok\"} 0\nevhost_reloads_total{result=\"failed\"} 2\n"),
        "{metrics}"
    );
    stop(host);
    let a = ids(&env, "a.jsonl");
    assert_eq!(a, run_of(0, *a.last().unwrap()));
}

#[test]
fn a_log_change_is_refused_naming_the_key() {
    let env = Env::new();
    let with_log = |capacity: u64| file(ticker(1000), "a", json!({})).table("log", json!({ "capacity": capacity }));
    env.write_config(&with_log(1024));
    let (host, port) = start(&env);
    env.write_config(&with_log(4096));
    let (code, body) = post_reload(port);
    assert_eq!(code, 422, "{body:#}");
    insta::assert_snapshot!("log_change", env.redact(body["diagnostic"].as_str().unwrap()));
    assert_eq!(body["error"], "`[log] capacity` cannot change while evhost runs; the reload changed nothing");
    stop(host);
}

#[test]
fn a_replaced_go_library_is_refused_saying_a_restart_is_needed() {
    let env = Env::new();
    let library = env.path("libgo.so");
    std::fs::copy(crate::support::plugin(GO), &library).unwrap();
    let config = ticker(100).consumer("g", &library.display().to_string()).plugin("digest");
    env.write_config(&config.config(json!({ "path": "g.json" })));
    let (host, port) = start(&env);
    // The same bytes, but a new file: a new build would look like this.
    std::fs::copy(crate::support::plugin(GO), env.path("libgo.so.new")).unwrap();
    std::fs::rename(env.path("libgo.so.new"), &library).unwrap();
    let (code, body) = post_reload(port);
    assert_eq!(code, 422, "{body:#}");
    insta::assert_snapshot!("go_replaced", env.redact(body["diagnostic"].as_str().unwrap()));
    assert_eq!(instances(port), ["g", "tick"]);
    stop(host);
}

#[test]
fn a_reload_needs_the_admin_token_and_a_post() {
    let env = Env::new();
    let port = free_port();
    let admin = json!({ "listen": format!("127.0.0.1:{port}"), "token": "s3cret" });
    env.write_config(&file(ticker(100), "a", json!({})).table("admin", admin));
    let mut host = env.start(&["run", "-c", "evhost.toml"]);
    host.wait_for_line("evhost is running");
    let url = format!("http://127.0.0.1:{port}/v1/reload");
    let Err(ureq::Error::Status(401, _)) = ureq::post(&url).call() else { panic!("POST without the token") };
    let Err(ureq::Error::Status(405, response)) = ureq::get(&url).call() else { panic!("GET /v1/reload") };
    assert_eq!(response.header("allow"), Some("POST"));
    assert_eq!(response.into_string().unwrap(), "/v1/reload answers POST only, not GET\n");
    let response = ureq::post(&url).set("Authorization", "Bearer s3cret").call().expect("POST with the token");
    let summary: Value = serde_json::from_str(&response.into_string().unwrap()).unwrap();
    assert_eq!(summary["unchanged"], json!(["a", "tick"]), "the same file: nothing changes");
    stop(host);
}

#[test]
fn a_stuck_consumer_removed_by_a_reload_is_left_behind_and_the_rest_runs_on() {
    let env = Env::new();
    let stuck = crate::fixture::misbehaving_consumer(&env, "forever(); return EVH_OK;").display().to_string();
    let with_stuck = |config: Config| config.consumer("stuck", &stuck).plugin("fixture");
    let base = || file(ticker(1000), "a", json!({})).table("host", json!({ "drain_timeout": "1s" }));
    env.write_config(&with_stuck(base()));
    let (mut host, port) = start(&env);
    eventually(SETTLE_LIMIT, "a to receive events", || env.lines_so_far("a.jsonl") >= 20);
    env.write_config(&base());
    let (code, summary) = post_reload(port);
    assert_eq!((code, &summary["removed"]), (200, &json!(["stuck"])), "{summary:#}");
    let line = host.wait_for_line("did not finish within the drain timeout as the reload retired it");
    assert!(line.contains("consumer=stuck"), "{line}");
    let now = env.lines_so_far("a.jsonl");
    eventually(SETTLE_LIMIT, "a to go on", || env.lines_so_far("a.jsonl") >= now + 50);
    assert_eq!(instances(port), ["a", "tick"]);
    stop(host);
    let report = env.json("report.json");
    assert_eq!(report["consumers"][0]["state"], "not_drained", "{report:#}");
}
