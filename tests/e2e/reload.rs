//! Hot reload (SIGHUP, `POST /v1/reload`) through the real binary: instances added, removed
//! and replaced while the `ticker` producer runs (ids 0, 1, 2, ... so that every consumer's
//! file shows what it got), the disk log's ledger across a reload, a library file replaced
//! at the same path, and a producer added by a reload told of its commits. The helpers here
//! serve `reload_queue`, `reload_refused` and `sd_notify` too.

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::{json, Value};

use crate::config::Config;
use crate::fixture::{c_plugin, EVENTS_OK};
use crate::support::{eventually, free_port, Env, Running, C, SETTLE_LIMIT};

/// The `ticker` producer as "tick": ids 0, 1, 2, ... at `rate` events per second until it is
/// stopped, so the host runs until the test stops it.
pub fn ticker(rate: u64) -> Config {
    Config::new().producer("tick", "libevh_fixture_c.so").plugin("ticker").config(json!({ "rate": rate }))
}

/// The `file` consumer `name`, writing `<name>.jsonl`, with `extra` keys in its config.
pub fn file(config: Config, name: &str, extra: Value) -> Config {
    let mut keys = json!({ "path": format!("{name}.jsonl") });
    keys.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    config.consumer(name, "libevh_file.so").config(keys)
}

/// `evhost run` with the admin endpoint on a free port, and a report.
pub fn start(env: &Env) -> (Running, u16) {
    let port = free_port();
    let mut host =
        env.start(&["run", "-c", "evhost.toml", "--admin", &format!("127.0.0.1:{port}"), "--report", "report.json"]);
    host.wait_for_line("evhost is running");
    (host, port)
}

/// `POST /v1/reload`: the status and the JSON body.
pub fn post_reload(port: u16) -> (u16, Value) {
    let request = ureq::post(&format!("http://127.0.0.1:{port}/v1/reload")).timeout(Duration::from_secs(30));
    let (code, text) = match request.call() {
        Ok(response) => (response.status(), response.into_string().unwrap()),
        Err(ureq::Error::Status(code, response)) => (code, response.into_string().unwrap()),
        Err(e) => panic!("POST /v1/reload failed: {e}"),
    };
    (code, serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")))
}

pub fn get(port: u16, path: &str) -> String {
    ureq::get(&format!("http://127.0.0.1:{port}{path}")).call().expect("GET").into_string().unwrap()
}

/// The names of the instances `/v1/status` lists, in its order.
pub fn instances(port: u16) -> Vec<String> {
    let status: Value = serde_json::from_str(&get(port, "/v1/status")).unwrap();
    status["instances"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_string()).collect()
}

/// The ids of the events in a `file` consumer's output, in the order written.
pub fn ids(env: &Env, file: &str) -> Vec<u64> {
    env.json_lines(file).iter().map(|e| e["id"].as_str().unwrap().parse().unwrap()).collect()
}

/// The ids from `first` up to `last`, each once.
pub fn run_of(first: u64, last: u64) -> Vec<u64> {
    (first..=last).collect()
}

pub fn stop(host: Running) {
    host.signal(Signal::SIGTERM);
    host.wait().expect_code(0);
}

#[test]
fn a_consumer_added_by_sighup_receives_every_event_from_then_on() {
    let env = Env::new();
    env.write_config(&file(ticker(2000), "a", json!({})));
    let (mut host, port) = start(&env);
    eventually(SETTLE_LIMIT, "a to receive events", || env.lines_so_far("a.jsonl") >= 20);

    env.write_config(&file(file(ticker(2000), "a", json!({})), "b", json!({})));
    host.signal(Signal::SIGHUP);
    host.wait_for_line("reloaded");
    eventually(SETTLE_LIMIT, "b to receive events", || env.lines_so_far("b.jsonl") >= 20);
    assert_eq!(instances(port), ["a", "b", "tick"], "/v1/status lists the new set in config order");
    let metrics = get(port, "/metrics");
    assert!(metrics.contains("evhost_reloads_total{result=\"ok\"} 1\n"), "{metrics}");
    assert!(metrics.contains("evhost_received_events_total{instance=\"b\",plugin=\"file\",kind=\"consumer\"}"));
    stop(host);

    let (a, b) = (ids(&env, "a.jsonl"), ids(&env, "b.jsonl"));
    assert_eq!(a, run_of(0, *a.last().unwrap()), "a, untouched, got every event once");
    assert!(b[0] >= 20, "b starts at the newest event, not the oldest: {}", b[0]);
    assert_eq!(b, run_of(b[0], *a.last().unwrap()), "b got every event from its first on");
}

#[test]
fn a_removed_consumer_drains_and_gets_on_stop_while_the_rest_runs_on() {
    let env = Env::new();
    let with_digest = file(ticker(2000), "a", json!({})).consumer("d", C).plugin("digest");
    env.write_config(&with_digest.config(json!({ "path": "digest.json" })));
    let (mut host, _) = start(&env);
    eventually(SETTLE_LIMIT, "a to receive events", || env.lines_so_far("a.jsonl") >= 20);

    env.write_config(&file(ticker(2000), "a", json!({})));
    let before = env.lines_so_far("a.jsonl") as u64;
    host.signal(Signal::SIGHUP);
    host.wait_for_line("reloaded");
    // digest writes its file in on_stop, which ran before the reload finished.
    let digest = env.json("digest.json");
    assert_eq!(digest["in_order"], true);
    let count = digest["count"].as_u64().unwrap();
    assert!(count >= before, "d drained up to the newest event at its removal: {count} < {before}");
    let after = env.lines_so_far("a.jsonl");
    eventually(SETTLE_LIMIT, "a to go on", || env.lines_so_far("a.jsonl") >= after + 50);
    stop(host);

    let report = env.json("report.json");
    let d = report["consumers"].as_array().unwrap().iter().find(|c| c["name"] == "d").expect("d in the report");
    assert_eq!((&d["state"], d["delivered"].as_u64()), (&json!("removed"), Some(count)), "{report:#}");
    let a = ids(&env, "a.jsonl");
    assert_eq!(a, run_of(0, *a.last().unwrap()));
    assert!(count < a.len() as u64, "d got nothing after its removal");
}

#[test]
fn a_changed_consumer_is_replaced_and_its_successor_loses_and_repeats_nothing() {
    let env = Env::new();
    env.write_config(&file(ticker(5000), "out", json!({})));
    let (mut host, port) = start(&env);
    eventually(SETTLE_LIMIT, "out to receive events", || env.lines_so_far("out.jsonl") >= 200);

    env.write_config(&file(ticker(5000), "out", json!({ "fsync": "batch" })));
    let (code, summary) = post_reload(port);
    assert_eq!(code, 200, "{summary:#}");
    let expected = json!({ "reloaded": true, "added": [], "removed": [], "replaced": ["out"], "unchanged": ["tick"] });
    assert_eq!(summary, expected);
    let swapped = env.lines_so_far("out.jsonl");
    eventually(SETTLE_LIMIT, "out to go on", || env.lines_so_far("out.jsonl") >= swapped + 200);
    host.wait_for_line("consumer replaced by the reload has stopped");
    stop(host);

    let out = ids(&env, "out.jsonl");
    assert_eq!(out, run_of(0, *out.last().unwrap()), "every event exactly once, in order, across the swap");
    let report = env.json("report.json");
    let states: Vec<&Value> = report["consumers"].as_array().unwrap().iter().map(|c| &c["state"]).collect();
    assert_eq!(states, [&json!("removed"), &json!("drained")], "{report:#}");
}

/// A consumer library that creates the file `marker` in on_create.
fn marking(marker: &str) -> String {
    let code = format!(
        "static int me;\nstatic evh_status create(const evh_create_args *args, void **out) {{ touch(args, \"{marker}\"); *out = &me; return EVH_OK; }}\n{EVENTS_OK}"
    );
    c_plugin("EVH_KIND_CONSUMER", "mark", &[("on_create", "create"), ("on_events", "events")], &code)
}

#[test]
fn a_library_replaced_at_the_same_path_is_loaded_as_the_new_version() {
    let env = Env::new();
    let library = env.compile_library("libmark.so", &marking("v1"));
    let v2 = env.compile_library("libmark-v2.so", &marking("v2"));
    env.write_config(&ticker(100).consumer("m", &library.display().to_string()));
    let (host, port) = start(&env);
    assert!(env.path("v1").exists() && !env.path("v2").exists());
    // As `install` or a build does: a new file under the old name.
    std::fs::rename(&v2, &library).unwrap();
    let (code, summary) = post_reload(port);
    assert_eq!((code, &summary["replaced"], &summary["unchanged"]), (200, &json!(["m"]), &json!(["tick"])));
    assert!(env.path("v2").exists(), "the new version's on_create ran");
    stop(host);
}

#[test]
fn the_disk_log_forgets_a_removed_consumer_and_keeps_a_replaced_ones_place() {
    let env = Env::new();
    let disk = json!({ "kind": "disk", "path": "evlog" });
    let both = || file(file(ticker(2000), "a", json!({})), "d", json!({})).table("log", disk.clone());
    env.write_config(&both());
    let (mut host, _) = start(&env);
    eventually(SETTLE_LIMIT, "d to receive events", || env.lines_so_far("d.jsonl") >= 20);
    // d goes; a is replaced (a new config key) and takes over its own place; c comes, from
    // the oldest event the disk log keeps.
    let changed = file(ticker(2000), "a", json!({ "fsync": "batch" }));
    env.write_config(&file(changed, "c", json!({})).set("start", "beginning").table("log", disk.clone()));
    host.signal(Signal::SIGHUP);
    host.wait_for_line("reloaded");
    let now = env.lines_so_far("a.jsonl");
    eventually(SETTLE_LIMIT, "a to go on", || env.lines_so_far("a.jsonl") >= now + 50);
    stop(host);
    let a = ids(&env, "a.jsonl");
    assert_eq!(a, run_of(0, *a.last().unwrap()), "a got every event once across the swap");
    assert_eq!(ids(&env, "c.jsonl"), a, "c, added with start = \"beginning\", got every event the log kept");

    // Back with d: the ledger no longer knows it, so it starts at the end; a resumes.
    env.write_config(&both());
    let mut host = env.start(&["run", "-c", "evhost.toml"]);
    host.wait_for_line("evhost is running");
    host.signal(Signal::SIGTERM);
    let stderr = host.wait().expect_code(0).stderr.clone();
    let resumed: Vec<&str> = stderr.lines().filter(|l| l.contains("consumer resumes where it left off")).collect();
    assert!(resumed.len() == 1 && resumed[0].contains("consumer=\"a\""), "{stderr}");
}

/// Producer `tracked`: emits 10 events with `emit_tracked`, then says "told <n>" once its
/// `on_committed` was called with its ticket, and runs until stopped.
const TRACKED: &str = r#"#include <stdatomic.h>
typedef struct tracked { evh_host *host; const evh_host_api *api; _Atomic uint64_t notified; char ids[10][4]; evh_event events[10]; } tracked;
static evh_status tracked_create(const evh_create_args *args, void **out)
{
    tracked *t = calloc(1, sizeof *t);
    if (t == NULL) return EVH_ERR_INTERNAL;
    t->host = args->host;
    t->api = args->api;
    *out = t;
    return EVH_OK;
}
static void tracked_destroy(void *instance) { free(instance); }
static void tracked_committed(void *instance, uint64_t committed) { atomic_store(&((tracked *)instance)->notified, committed); }
static evh_status tracked_run(void *instance)
{
    tracked *t = instance;
    for (int i = 0; i < 10; i++) {
        int len = snprintf(t->ids[i], sizeof t->ids[i], "t%d", i);
        t->events[i] = (evh_event){ .struct_size = sizeof(evh_event), .id = {(const uint8_t *)t->ids[i], (size_t)len},
                                    .source = STR("/tracked"), .type = STR("dev.evhost.test.tracked") };
    }
    uint64_t ticket = 0;
    if (t->api->emit_tracked(t->host, t->events, 10, EVH_EMIT_BLOCK, &ticket) != EVH_OK) return EVH_FAIL;
    while (atomic_load(&t->notified) < ticket && !t->api->stop_requested(t->host)) sleep_ms(5);
    if (atomic_load(&t->notified) >= ticket) t->api->log(t->host, EVH_LOG_INFO, STR("told of the commit"));
    while (!t->api->stop_requested(t->host)) sleep_ms(5);
    return EVH_OK;
}
"#;

#[test]
fn a_producer_added_by_a_reload_is_told_of_its_commits() {
    let env = Env::new();
    let hooks = [
        ("on_create", "tracked_create"),
        ("on_destroy", "tracked_destroy"),
        ("on_run", "tracked_run"),
        ("on_committed", "tracked_committed"),
    ];
    let library = env.compile_library("libtracked.so", &c_plugin("EVH_KIND_PRODUCER", "tracked", &hooks, TRACKED));
    // No producer with on_committed at start: the notifier starts with the reload.
    env.write_config(&file(ticker(100), "a", json!({})));
    let (mut host, port) = start(&env);
    env.write_config(&file(ticker(100), "a", json!({})).producer("tracked", &library.display().to_string()));
    let (code, summary) = post_reload(port);
    assert_eq!((code, &summary["added"]), (200, &json!(["tracked"])), "{summary:#}");
    host.wait_for_line("told of the commit");
    eventually(SETTLE_LIMIT, "a to receive the tracked events", || {
        env.lines_so_far("a.jsonl") > 0 && std::fs::read_to_string(env.path("a.jsonl")).unwrap().contains("\"t9\"")
    });
    stop(host);
}

#[test]
fn a_changed_producer_stops_before_its_successor_starts() {
    let env = Env::new();
    env.write_config(&file(ticker(1000), "a", json!({})));
    let (host, port) = start(&env);
    eventually(SETTLE_LIMIT, "a to receive events", || env.lines_so_far("a.jsonl") >= 20);
    env.write_config(&file(ticker(2000), "a", json!({})));
    let (code, summary) = post_reload(port);
    assert_eq!((code, &summary["replaced"], &summary["unchanged"]), (200, &json!(["tick"]), &json!(["a"])));
    let now = env.lines_so_far("a.jsonl");
    eventually(SETTLE_LIMIT, "the new ticker's events", || env.lines_so_far("a.jsonl") >= now + 50);
    stop(host);
    // Each ticker counts from 0: the old one's run, then the new one's, never interleaved.
    let a = ids(&env, "a.jsonl");
    let second = a.iter().skip(1).position(|&id| id == 0).expect("the new ticker's first event") + 1;
    assert_eq!(a[..second], run_of(0, a[second - 1]));
    assert_eq!(a[second..], run_of(0, *a.last().unwrap()));
    let report = env.json("report.json");
    let states: Vec<&Value> = report["producers"].as_array().unwrap().iter().map(|p| &p["state"]).collect();
    assert_eq!(states, [&json!("removed"), &json!("stopped")], "{report:#}");
}
