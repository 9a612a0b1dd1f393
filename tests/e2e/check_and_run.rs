//! `check` and `run` accept and refuse the same configs: what would fail at run time (a
//! dead-letter file that cannot be written, a zero drain_timeout or max_event_bytes) is
//! refused by both with exit 2, and a config with only one side gets a warning from both.

use crate::config::{DIGEST_TEXT as DIGEST, SEQUENCE_TEXT as SEQUENCE};
use crate::support::Env;

/// `check` and `run` both exit 2 with the same message; returns it, redacted.
fn both_refuse(env: &Env) -> String {
    let check = env.fails(&["check", "-c", "evhost.toml"]);
    let run = env.fails(&["run", "-c", "evhost.toml"]);
    assert_eq!(check.stderr, run.stderr, "check and run disagree");
    env.redact(&check.stderr)
}

/// A config whose digest consumer writes dead letters to `path`.
fn dead_letter_at(path: &str) -> Env {
    let env = Env::new();
    env.config(&format!("{SEQUENCE}{DIGEST}dead_letter = \"{path}\"\n"));
    env
}

#[test]
fn a_dead_letter_file_in_a_missing_folder_is_refused() {
    insta::assert_snapshot!("dead_letter_missing_folder", both_refuse(&dead_letter_at("nope/dlq.jsonl")));
}

#[test]
fn a_dead_letter_path_that_is_a_directory_is_refused() {
    let env = dead_letter_at("dlq");
    std::fs::create_dir(env.path("dlq")).unwrap();
    insta::assert_snapshot!("dead_letter_directory", both_refuse(&env));
}

#[test]
fn a_dead_letter_file_under_sys_is_refused() {
    insta::assert_snapshot!("dead_letter_sys", both_refuse(&dead_letter_at("/sys/kernel/evhost-dlq.jsonl")));
}

#[test]
fn check_leaves_no_dead_letter_file_behind() {
    let env = dead_letter_at("dlq.jsonl");
    env.evhost(&["check", "-c", "evhost.toml"]).expect_code(0);
    assert!(!env.path("dlq.jsonl").exists(), "check created the dead-letter file");
    // Nor does a run in which nothing failed: the file's existence means something did.
    env.run().expect_code(0);
    assert!(!env.path("dlq.jsonl").exists(), "a run without failures created the dead-letter file");
}

#[test]
fn zero_max_event_bytes_is_refused() {
    let env = Env::new();
    env.config(&format!("[host]\nmax_event_bytes = \"0\"\n{SEQUENCE}{DIGEST}"));
    insta::assert_snapshot!("max_event_bytes_zero", both_refuse(&env));
}

#[test]
fn zero_drain_timeout_is_refused() {
    let env = Env::new();
    env.config(&format!("[host]\ndrain_timeout = \"0s\"\n{SEQUENCE}{DIGEST}"));
    insta::assert_snapshot!("drain_timeout_zero", both_refuse(&env));
}

/// `check` and `run` both succeed and both log `warning`.
fn both_warn(env: &Env, warning: &str) {
    for out in [env.evhost(&["check", "-c", "evhost.toml"]), env.run()] {
        out.expect_code(0);
        let line = out.stderr.lines().find(|l| l.contains(warning)).unwrap_or_else(|| panic!("{}", out.stderr));
        assert!(line.contains("WARN"), "{line}");
    }
}

#[test]
fn producers_without_consumers_get_a_warning() {
    let env = Env::new();
    env.config(SEQUENCE);
    both_warn(&env, "producers but no consumers: every event they emit goes nowhere");
}

#[test]
fn consumers_without_producers_get_a_warning() {
    let env = Env::new();
    env.config(DIGEST);
    both_warn(&env, "consumers but no producers: the consumers will never receive anything");
}
