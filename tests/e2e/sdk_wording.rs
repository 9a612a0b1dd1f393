//! One wording for a config mistake across the host and the SDKs: a Rust and a Go plugin's
//! config error through `evhost check` reads as the host's own, with the caret on the key
//! in the config file (the SDKs report it through the host's config accessors).

use crate::support::{plugin, Env, GO, RUST};

/// `evhost check` of one consumer or producer of `library` with `config` (a TOML inline
/// table); its error, redacted.
fn check(library: &str, kind: &str, name: &str, config: &str) -> String {
    let env = Env::new();
    env.config(&format!(
        "[[{kind}]]\nname = \"under-test\"\nlibrary = \"{}\"\nplugin = \"{name}\"\nconfig = {config}\n",
        plugin(library).display()
    ));
    env.check_fails()
}

#[test]
fn a_rust_plugins_config_mistakes_read_as_the_hosts() {
    let cases = [
        check(RUST, "producer", "sequence", r#"{ count = 10, bacth = 5 }"#),
        check(RUST, "producer", "sequence", r#"{ count = "ten" }"#),
        check(RUST, "consumer", "digest", r#"{ }"#),
    ];
    insta::assert_snapshot!("rust_config_mistakes", cases.join("\n"));
}

#[test]
fn a_go_plugins_config_mistakes_read_as_the_hosts() {
    let cases = [
        check(GO, "producer", "sequence", r#"{ count = 10, bacth = 5 }"#),
        check(GO, "producer", "sequence", r#"{ count = "ten" }"#),
        check(GO, "consumer", "digest", r#"{ }"#),
    ];
    insta::assert_snapshot!("go_config_mistakes", cases.join("\n"));
}
