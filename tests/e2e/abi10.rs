//! ABI 1.0 compatibility: a library built against a copy of the 1.0 header
//! (tests/fixtures/c/abi10.c) loads and runs unchanged in this host (ABI 1.2).

use crate::support::{plugin, Env};

const ABI10: &str = "libevh_fixture_abi10.so";

#[test]
fn a_library_built_against_abi_1_0_runs_unchanged() {
    let env = Env::new();
    let library = plugin(ABI10).display().to_string();
    env.config(&format!(
        r#"[[producer]]
name = "count"
library = "{library}"
plugin = "count"

[[consumer]]
name = "print"
library = "{library}"
plugin = "print"
"#
    ));
    let out = env.run();
    out.expect_code(0);
    // Every event end to end, in order; and the host never read the pointer that lies
    // behind the 1.0 plugin table where 1.1 has on_committed (the fixture would abort).
    let expected: Vec<String> = (1..=100).map(|k| format!("[abi10] #{k} id={k}")).collect();
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), expected, "stderr:\n{}", out.stderr);
}

#[test]
fn inspect_shows_abi_1_0() {
    let env = Env::new();
    let library = plugin(ABI10);
    let out = env.evhost(&["inspect", library.to_str().expect("a UTF-8 path")]);
    out.expect_code(0);
    let text = env.redact(&out.stdout);
    assert!(text.contains("abi: 1.0"), "{text}");
    insta::assert_snapshot!("abi10", text);
}
