//! The example plugins are cross-language test vectors: a sequence producer in any language
//! and digest consumers in every language must agree, byte for byte, on what was delivered.

use serde_json::json;

use crate::config::Config;
use crate::support::{Env, C, CPP, GO, RUST};

/// `sequence` with count 200000 and payload_bytes 100, per the C example's README.
const VECTOR_200K: &str = "068686317c7cffc9";

fn digests_of(producer_library: &str, consumers: &[(&str, &str)]) -> Env {
    let env = Env::with(
        &Config::sequence(producer_library, json!({ "count": 200000, "payload_bytes": 100 }))
            .consumers(consumers, "digest", ""),
    );
    env.run().expect_code(0);
    let expected = json!({"count": 200000, "digest": VECTOR_200K, "in_order": true});
    for (name, _) in consumers {
        assert_eq!(env.json(&format!("{name}.json")), expected, "digest consumer {name} (producer {producer_library})");
    }
    env
}

const ALL_DIGESTS: &[(&str, &str)] = &[("c", C), ("rust", RUST), ("cpp", CPP), ("go", GO)];

#[test]
fn c_sequence_into_digests_in_every_language() {
    digests_of(C, ALL_DIGESTS);
}

#[test]
fn rust_sequence_into_digests_in_every_language() {
    digests_of(RUST, ALL_DIGESTS);
}

#[test]
fn go_sequence_into_go_c_and_rust_digests() {
    digests_of(GO, &[("go", GO), ("c", C), ("rust", RUST)]);
}

#[test]
fn two_producers_into_one_digest_keep_log_order() {
    let env = Env::with(
        &Config::new()
            .producer("seq-c", C)
            .plugin("sequence")
            .config(json!({ "count": 1000 }))
            .producer("seq-rust", RUST)
            .plugin("sequence")
            .config(json!({ "count": 1000 }))
            .digest(),
    );
    env.run().expect_code(0);
    let digest = env.json("digest.json");
    assert_eq!(digest["count"], 2000, "{digest}");
    assert_eq!(digest["in_order"], true, "{digest}");
}

#[test]
fn count_consumers_agree_across_languages() {
    let env = Env::with(&Config::sequence(C, json!({ "count": 5000, "payload_bytes": 37 })).consumers(
        &[("c", C), ("rust", RUST), ("go", GO)],
        "count",
        "",
    ));
    env.run().expect_code(0);
    for name in ["c", "rust", "go"] {
        assert_eq!(
            env.json(&format!("{name}.json")),
            json!({"count": 5000, "bytes": 5000 * 37}),
            "count consumer {name}"
        );
    }
}

/// Plugins resolve relative paths in their config against the config file's folder, as the
/// host does for `library`, in every language: run from elsewhere, the files land next to
/// the config.
#[test]
fn relative_plugin_paths_are_relative_to_the_config_file() {
    let env = Env::new();
    let config = Config::sequence(C, json!({ "count": 100 }))
        .consumers(ALL_DIGESTS, "digest", "out/")
        .consumer("file", "libevh_file.so")
        .config(json!({ "path": "out/events.jsonl" }));
    std::fs::create_dir_all(env.path("conf/out")).expect("the output folder");
    env.write("conf/evhost.toml", &config.to_toml());
    env.evhost(&["run", "-c", "conf/evhost.toml"]).expect_code(0);
    for (name, _) in ALL_DIGESTS {
        assert_eq!(env.json(&format!("conf/out/{name}.json"))["count"], 100, "{name}'s digest is next to the config");
    }
    assert_eq!(env.json_lines("conf/out/events.jsonl").len(), 100);
    assert!(!env.path("out").exists(), "nothing is written relative to the working directory");
}

/// The README's three `print` consumers write the same line for the same event.
#[test]
fn the_readme_print_consumers_print_the_same_lines() {
    let config = [("c", C), ("rust", RUST), ("go", GO)]
        .into_iter()
        .fold(Config::sequence(C, json!({ "count": 3, "payload_bytes": 5 })), |config, (name, library)| {
            config.consumer(name, library).plugin("print")
        });
    let env = Env::with(&config);
    let out = env.run();
    out.expect_code(0);
    for language in ["c", "rust", "go"] {
        let lines: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with(&format!("[{language}] "))).collect();
        let expected: Vec<String> = (0..3)
            .map(|k| {
                format!(
                    "[{language}] #{} dev.evhost.example.sequence id={k} source=/evhost/examples/sequence (5 bytes)",
                    k + 1
                )
            })
            .collect();
        assert_eq!(lines, expected, "{language}:\n{}", out.stdout);
    }
}
