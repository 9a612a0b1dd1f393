//! `evhost inspect`: what each example library says about itself.

use crate::support::{plugin, Env, C, CPP, GO, RUST};

fn inspect_text(file: &str) -> String {
    let env = Env::new();
    let library = plugin(file);
    let out = env.evhost(&["inspect", library.to_str().expect("a UTF-8 path")]);
    out.expect_code(0);
    assert_eq!(out.stderr, "", "inspect writes nothing to stderr on success");
    env.redact(&out.stdout)
}

#[test]
fn c_library() {
    let text = inspect_text(C);
    assert!(!text.contains("Go runtime"), "{text}");
    insta::assert_snapshot!("c", text);
}

#[test]
fn cpp_library() {
    insta::assert_snapshot!("cpp", inspect_text(CPP));
}

#[test]
fn rust_library() {
    insta::assert_snapshot!("rust", inspect_text(RUST));
}

#[test]
fn go_library_says_it_carries_a_go_runtime() {
    let text = inspect_text(GO);
    assert!(text.contains("carries a Go runtime"), "{text}");
    insta::assert_snapshot!("go", text);
}

#[test]
fn json_lists_names_and_kinds() {
    let env = Env::new();
    let library = plugin(RUST);
    let out = env.evhost(&["inspect", "--json", library.to_str().expect("a UTF-8 path")]);
    out.expect_code(0);
    let value: serde_json::Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", out.stdout));
    assert_eq!(value["library"], library.display().to_string());
    assert_eq!(value["abi"]["major"], 1);
    assert_eq!(value["go_runtime"], false);
    let plugins: Vec<(String, String)> = value["plugins"]
        .as_array()
        .expect("a plugins array")
        .iter()
        .map(|p| (p["name"].as_str().expect("a name").to_string(), p["kind"].as_str().expect("a kind").to_string()))
        .collect();
    let expected = [
        ("sequence", "producer"),
        ("digest", "consumer"),
        ("count", "consumer"),
        ("print", "consumer"),
        ("types", "consumer"),
    ];
    assert_eq!(plugins, expected.map(|(n, k)| (n.to_string(), k.to_string())));
}

#[test]
fn json_marks_the_go_runtime() {
    let env = Env::new();
    let out = env.evhost(&["inspect", "--json", plugin(GO).to_str().expect("a UTF-8 path")]);
    out.expect_code(0);
    let value: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(value["go_runtime"], true);
}

#[test]
fn dev_zero_is_refused_before_it_is_read() {
    // Under a memory cap: reading /dev/zero to its end must fail the test, not the machine.
    let env = Env::new();
    let out = crate::fixture::capped(&env, &["inspect", "/dev/zero"]);
    out.expect_code(2);
    insta::assert_snapshot!("dev_zero", env.redact(&out.stderr));
}

#[test]
fn a_fifo_is_refused_without_waiting_for_a_writer() {
    let env = Env::new();
    crate::fixture::mkfifo(&env.path("lib.so"));
    let out = crate::fixture::capped(&env, &["inspect", "lib.so"]);
    out.expect_code(2);
    assert!(out.stderr.contains("error: library lib.so is a FIFO (named pipe), not a regular file"), "{}", out.stderr);
}

#[test]
fn a_signal_ends_inspect_at_once_saying_where_it_hung() {
    // The library's constructor signals the host and hangs: inspect has nothing to stop in
    // order, so the first signal ends it, naming the library.
    let env = Env::new();
    env.compile_library(
        "libhang.so",
        "#define _GNU_SOURCE\n#include <signal.h>\n#include <unistd.h>\n__attribute__((constructor)) static void hang(void) { kill(getpid(), SIGTERM); for (;;) pause(); }\n",
    );
    let out = env.evhost(&["inspect", "libhang.so"]);
    out.expect_code(1);
    let stderr = crate::fixture::redact_seconds(&out.stderr);
    assert_eq!(stderr, "error: SIGTERM received; giving up while library libhang.so is still in its initializers (dlopen) after [SECS]s\n");
}
