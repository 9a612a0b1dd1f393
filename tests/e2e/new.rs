//! `evhost new`: each language and kind, written to a temporary folder outside the
//! repository, builds with `make`, passes the conformance kit with `make test`, and runs
//! under the host with its own `evhost.toml`. Names and folders it cannot use are refused.

use std::path::Path;
use std::process::Command;

use crate::support::{root, Env};

/// `make TARGET` in `dir`, with the host under test as EVHOST; its stdout and stderr.
fn make(dir: &Path, target: &str) -> (String, String) {
    let out = Command::new("make")
        .arg("-s")
        .arg(target)
        .arg(format!("EVHOST={}", env!("CARGO_BIN_EXE_evhost")))
        // The Rust project reuses the repository's build cache (and its lock file, below).
        .env("CARGO_TARGET_DIR", root().join("target"))
        .env("CARGO_NET_OFFLINE", "true")
        .env("NO_COLOR", "1")
        .current_dir(dir)
        .output()
        .expect("run make");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(out.status.success(), "`make {target}` failed in {}\nstdout:\n{stdout}\nstderr:\n{stderr}", dir.display());
    (stdout, stderr)
}

/// Writes, builds, tests and runs one project.
fn round_trip(language: &str, kind: &str) {
    let env = Env::new();
    let name = format!("my-{language}-{kind}");
    let dir = env.path(&name);
    let out = env.evhost(&["new", language, &name, &format!("--{kind}"), &dir.display().to_string()]);
    out.expect_code(0);
    assert!(out.stdout.contains("make test"), "{}", out.stdout);
    if language == "rust" {
        std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock")).expect("copy the lock file");
    }
    make(&dir, "all");
    let library = dir.join(format!("lib{}.so", name.replace('-', "_")));
    assert!(library.is_file(), "`make` did not build {}", library.display());
    let (kit, _) = make(&dir, "test");
    assert!(kit.contains(", 0 failed, 0 warnings"), "the kit found faults:\n{kit}");
    assert!(!kit.contains("  skip "), "the kit skipped checks:\n{kit}");
    let (stdout, stderr) = make(&dir, "run");
    assert!(stderr.contains("evhost stopped cleanly"), "{stderr}");
    match kind {
        "consumer" => {
            let lines = stdout.lines().filter(|line| line.starts_with(&format!("[{name}] #"))).count();
            assert_eq!(lines, 10, "one line per event:\n{stdout}");
        }
        _ => {
            let events = std::fs::read_to_string(dir.join("events.jsonl")).expect("the file consumer's output");
            assert_eq!(events.lines().count(), 10, "{events}");
            assert!(events.contains(&format!("\"source\":\"/{name}\"")), "{events}");
        }
    }
}

#[test]
fn a_c_consumer() {
    round_trip("c", "consumer");
}

#[test]
fn a_c_producer() {
    round_trip("c", "producer");
}

#[test]
fn a_rust_consumer() {
    round_trip("rust", "consumer");
}

#[test]
fn a_rust_producer() {
    round_trip("rust", "producer");
}

#[test]
fn a_go_consumer() {
    round_trip("go", "consumer");
}

#[test]
fn a_go_producer() {
    round_trip("go", "producer");
}

#[test]
fn bad_names_and_used_folders_are_refused() {
    let env = Env::new();
    std::fs::create_dir(env.path("used")).expect("a folder");
    env.write("used/file.txt", "mine");
    let outputs = [
        env.fails(&["new", "c", "Orders"]),
        env.fails(&["new", "rust", "9lives"]),
        env.fails(&["new", "go", "orders audit"]),
        env.fails(&["new", "c", "orders", "used"]),
    ];
    insta::assert_snapshot!("new_refused", env.redact(&outputs.map(|out| out.stderr).join("\n")));
    assert_eq!(std::fs::read_to_string(env.path("used/file.txt")).expect("still there"), "mine");
}
