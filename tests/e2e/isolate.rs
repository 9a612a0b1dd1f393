//! The basics of `isolate = true`: isolated consumers and producers in every language run
//! in worker processes and deliver every event in order, exactly as in-process ones; `check`
//! starts their workers; a plugin that refuses is a setup error as it is in-process; a
//! second Go library is allowed when isolated. (The fault tests, crashes, hangs, memory,
//! live in the tests of the isolation issue.)

use serde_json::json;

use crate::config::Config;
use crate::fixture::{c_plugin, EVENTS_OK};
use crate::support::{plugin, Env, C, GO, RUST};

/// `sequence` with count 200000 and payload_bytes 100, per the C example's README.
const VECTOR_200K: &str = "068686317c7cffc9";

/// The digests of `consumers`, each isolated or not, fed by an isolated `sequence`.
fn isolated_digests(consumers: &[(&str, &str, bool)]) -> Env {
    let mut config = Config::sequence(C, json!({ "count": 200000, "payload_bytes": 100 })).set("isolate", true);
    for (name, library, isolate) in consumers {
        config = config.consumer(name, library).plugin("digest").config(json!({ "path": format!("{name}.json") }));
        if *isolate {
            config = config.set("isolate", true);
        }
    }
    let env = Env::with(&config);
    let out = env.run();
    out.expect_code(0);
    let expected = json!({"count": 200000, "digest": VECTOR_200K, "in_order": true});
    for (name, _, _) in consumers {
        assert_eq!(env.json(&format!("{name}.json")), expected, "digest consumer {name}\n{}", out.stderr);
    }
    env
}

#[test]
fn isolated_consumers_in_every_language_get_every_event_in_order() {
    isolated_digests(&[("c", C, true), ("rust", RUST, true), ("go", GO, true), ("in-process", C, false)]);
}

#[test]
fn an_isolated_producer_into_in_process_consumers() {
    isolated_digests(&[("c", C, false), ("rust", RUST, false)]);
}

#[test]
fn check_starts_isolated_workers() {
    let env =
        Env::with(&Config::sequence(C, json!({ "count": 10 })).set("isolate", true).digest().set("isolate", true));
    let out = env.evhost(&["check", "-c", "evhost.toml"]);
    out.expect_code(0);
    assert_eq!(out.stdout, "evhost.toml: OK (1 producer, 1 consumer)\n");
    assert!(!env.path("digest.json").exists(), "check runs nothing");
}

#[test]
fn an_isolated_plugin_that_refuses_is_a_setup_error() {
    let env = Env::new();
    let code = format!("static evh_status create(const evh_create_args *a, void **o) {{ (void)o; a->api->set_error(a->host, STR(\"no such bucket\")); return EVH_ERR_CONFIG; }}\n{EVENTS_OK}");
    env.compile_library(
        "librefuse.so",
        &c_plugin("EVH_KIND_CONSUMER", "refuse", &[("on_create", "create"), ("on_events", "events")], &code),
    );
    env.write_config(&Config::new().consumer("picky", "librefuse.so").set("isolate", true));
    insta::assert_snapshot!("isolated_refusal", env.check_fails());
    env.write_config(&Config::new().consumer("missing", "libnothere.so").set("isolate", true));
    insta::assert_snapshot!("isolated_missing_library", env.check_fails());
}

#[test]
fn a_second_go_library_runs_when_isolated() {
    let env = Env::new();
    std::fs::copy(plugin(GO), env.path("libother_go.so")).expect("copy the Go library");
    env.write_config(
        &Config::sequence(C, json!({ "count": 1000 }))
            .consumer("go", GO)
            .plugin("count")
            .config(json!({ "path": "go.json" }))
            .consumer("other-go", "libother_go.so")
            .plugin("count")
            .config(json!({ "path": "other.json" }))
            .set("isolate", true),
    );
    env.run().expect_code(0);
    for file in ["go.json", "other.json"] {
        assert_eq!(env.json(file), json!({"count": 1000, "bytes": 64000}), "{file}");
    }
}

#[test]
fn a_go_library_under_too_little_max_memory_is_refused_with_the_fix() {
    let env = Env::with(
        &Config::new()
            .consumer("go", GO)
            .plugin("count")
            .config(json!({ "path": "go.json" }))
            .set("isolate", true)
            .set("max_memory", "64MiB"),
    );
    insta::assert_snapshot!("go_max_memory", env.check_fails());
    env.write_config(
        &Config::sequence(C, json!({ "count": 100 }))
            .consumer("go", GO)
            .plugin("count")
            .config(json!({ "path": "go.json" }))
            .set("isolate", true)
            .set("max_memory", "128MiB"),
    );
    env.run().expect_code(0);
    assert_eq!(env.json("go.json"), json!({"count": 100, "bytes": 6400}));
}

#[test]
fn check_fails_when_an_isolated_worker_keeps_dying_in_on_create() {
    let env = Env::new();
    let code = format!(
        "static evh_status create(const evh_create_args *a, void **o) {{ (void)a; (void)o; abort(); }}\n{EVENTS_OK}"
    );
    env.compile_library(
        "libabort.so",
        &c_plugin("EVH_KIND_CONSUMER", "abort", &[("on_create", "create"), ("on_events", "events")], &code),
    );
    env.write_config(
        &Config::new()
            .consumer("quitter", "libabort.so")
            .set("isolate", true)
            .set("restart", json!({ "attempts": 1, "backoff": "10ms..10ms" })),
    );
    let stderr = env.check_fails();
    let deaths = stderr.lines().filter(|l| l.contains("its worker died in on_create (killed by SIGABRT)")).count();
    assert_eq!(deaths, 3, "two deaths logged, then the diagnostic:\n{stderr}");
    let diagnostic = &stderr[stderr.rfind("error: consumer \"quitter\"").expect("the diagnostic")..];
    insta::assert_snapshot!("worker_dies_in_on_create", diagnostic);
}
