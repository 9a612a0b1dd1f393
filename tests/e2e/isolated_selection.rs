//! An isolated entry picks its plugin by the host's own rules: its worker, which loads the
//! library, decides as in-process startup does, and the host points at the same key. So
//! `isolate = true` never changes which plugin runs, nor the diagnostic when none fits.

use serde_json::json;

use crate::config::Config;
use crate::support::{Env, C, RUST};

/// `check`'s diagnostic for `entry` in-process and isolated, which must be the same.
fn both_ways(entry: impl Fn(bool) -> Config) -> String {
    let env = Env::new();
    env.write_config(&entry(false));
    let in_process = env.check_fails();
    env.write_config(&entry(true));
    let isolated = env.check_fails();
    assert_eq!(isolated, in_process, "isolated (left) and in-process (right) differ");
    in_process
}

#[test]
fn a_wrong_plugin_name_is_refused_alike_in_process_and_isolated() {
    // The C library carries three consumers.
    let diagnostic = both_ways(|isolate| {
        Config::new()
            .consumer("digest", C)
            .set("isolate", isolate)
            .plugin("digets")
            .config(json!({ "path": "digest.json" }))
    });
    insta::assert_snapshot!("wrong_plugin_in_process_and_isolated", diagnostic);
}

#[test]
fn an_unnamed_plugin_is_never_guessed_in_a_worker() {
    // The Rust library carries one producer and other plugins: in-process refuses to pick
    // it unnamed, and so must a worker.
    let diagnostic =
        both_ways(|isolate| Config::new().producer("seq", RUST).set("isolate", isolate).config(json!({ "count": 10 })));
    insta::assert_snapshot!("unnamed_plugin_in_process_and_isolated", diagnostic);
}
