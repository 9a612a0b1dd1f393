//! The disk log's setup, through the real binary: a folder two hosts would share is refused
//! with a message that says why, `check` accepts a disk log without opening it (the host it
//! belongs to may be running), and a clean restart resumes every consumer where it stopped.

use crate::support::{plugin, Env};

const DISK_LOG: &str = "[log]\nkind = \"disk\"\npath = \"evlog\"\n";

fn idle_host() -> String {
    format!(
        "{DISK_LOG}
[[producer]]
name = \"idle\"
library = \"{{C}}\"
plugin = \"sequence\"
config = {{ count = 10 }}

[[consumer]]
name = \"out\"
library = \"{{C}}\"
plugin = \"print\"
"
    )
}

#[test]
fn a_log_folder_in_use_by_another_host_is_refused() {
    let env = Env::new();
    env.config(&format!(
        "{DISK_LOG}
[[producer]]
name = \"ticks\"
library = \"{{C}}\"
plugin = \"sequence\"
config = {{ count = 1000000000, batch = 1 }}

[[consumer]]
name = \"out\"
library = \"{{C}}\"
plugin = \"count\"
"
    ));
    let mut first = env.spawn();
    first.wait_for_line("evhost is running");
    let second = env.fails(&["run", "-c", "evhost.toml"]);
    second.expect_code(2);
    insta::assert_snapshot!(env.redact(&second.stderr));
    // `check` does not open the log, so it passes beside the running host.
    let check = env.evhost(&["check", "-c", "evhost.toml"]);
    check.expect_code(0);
    first.signal(nix::sys::signal::Signal::SIGTERM);
    first.wait().expect_code(0);
}

#[test]
fn check_accepts_a_disk_log_and_creates_its_folder() {
    let env = Env::new();
    env.config(&idle_host());
    env.evhost(&["check", "-c", "evhost.toml"]).expect_code(0);
    assert!(env.path("evlog").is_dir());
}

#[test]
fn sequence_numbers_and_consumers_carry_on_across_a_clean_restart() {
    let env = Env::new();
    let config = |count: u32| {
        format!(
            "{DISK_LOG}
[[producer]]
name = \"seq\"
library = \"{{C}}\"
plugin = \"sequence\"
config = {{ count = {count} }}

[[consumer]]
name = \"out\"
library = \"{file}\"
config = {{ path = \"out.jsonl\" }}
",
            file = plugin("libevh_file.so").display()
        )
    };
    env.config(&config(100));
    env.run().expect_code(0);
    env.config(&config(50));
    let second = env.run();
    second.expect_code(0);
    assert!(second.stderr.contains("consumer resumes where it left off"), "{}", second.stderr);
    let events = env.json_lines("out.jsonl");
    // The sequence producer starts from id 0 each run; the log numbers on from 101.
    assert_eq!(events.len(), 150, "each event once: the first run's were not delivered again");
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids[99], "99");
    assert_eq!(ids[100], "0");
}
