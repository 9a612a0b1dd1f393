//! The example plugins are cross-language test vectors: a sequence producer in any language
//! and digest consumers in every language must agree, byte for byte, on what was delivered.

use serde_json::json;

use crate::support::Env;

/// `sequence` with count 200000 and payload_bytes 100, per the C example's README.
const VECTOR_200K: &str = "068686317c7cffc9";

fn digests_of(producer_library: &str, consumers: &[(&str, &str)]) -> Env {
    let env = Env::new();
    let mut toml = format!(
        "[[producer]]\nname = \"seq\"\nlibrary = \"{producer_library}\"\nplugin = \"sequence\"\nconfig = {{ count = 200000, payload_bytes = 100 }}\n"
    );
    for (name, library) in consumers {
        toml.push_str(&format!("\n[[consumer]]\nname = \"{name}\"\nlibrary = \"{library}\"\nplugin = \"digest\"\nconfig = {{ path = \"{name}.json\" }}\n"));
    }
    env.config(&toml);
    env.run().expect_code(0);
    let expected = json!({"count": 200000, "digest": VECTOR_200K, "in_order": true});
    for (name, _) in consumers {
        assert_eq!(env.json(&format!("{name}.json")), expected, "digest consumer {name} (producer {producer_library})");
    }
    env
}

const ALL_DIGESTS: &[(&str, &str)] = &[("c", "{C}"), ("rust", "{RUST}"), ("cpp", "{CPP}"), ("go", "{GO}")];

#[test]
fn c_sequence_into_digests_in_every_language() {
    digests_of("{C}", ALL_DIGESTS);
}

#[test]
fn rust_sequence_into_digests_in_every_language() {
    digests_of("{RUST}", ALL_DIGESTS);
}

#[test]
fn go_sequence_into_go_c_and_rust_digests() {
    digests_of("{GO}", &[("go", "{GO}"), ("c", "{C}"), ("rust", "{RUST}")]);
}

#[test]
fn two_producers_into_one_digest_keep_log_order() {
    let env = Env::new();
    env.config(
        r#"
[[producer]]
name = "seq-c"
library = "{C}"
plugin = "sequence"
config = { count = 1000 }

[[producer]]
name = "seq-rust"
library = "{RUST}"
plugin = "sequence"
config = { count = 1000 }

[[consumer]]
name = "digest"
library = "{C}"
plugin = "digest"
config = { path = "digest.json" }
"#,
    );
    env.run().expect_code(0);
    let digest = env.json("digest.json");
    assert_eq!(digest["count"], 2000, "{digest}");
    assert_eq!(digest["in_order"], true, "{digest}");
}

#[test]
fn count_consumers_agree_across_languages() {
    let env = Env::new();
    env.config(
        r#"
[[producer]]
name = "seq"
library = "{C}"
plugin = "sequence"
config = { count = 5000, payload_bytes = 37 }

[[consumer]]
name = "c"
library = "{C}"
plugin = "count"
config = { path = "c.json" }

[[consumer]]
name = "rust"
library = "{RUST}"
plugin = "count"
config = { path = "rust.json" }

[[consumer]]
name = "go"
library = "{GO}"
plugin = "count"
config = { path = "go.json" }
"#,
    );
    env.run().expect_code(0);
    for name in ["c", "rust", "go"] {
        assert_eq!(
            env.json(&format!("{name}.json")),
            json!({"count": 5000, "bytes": 5000 * 37}),
            "count consumer {name}"
        );
    }
}
