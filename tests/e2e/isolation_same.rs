//! Isolation changes nothing a plugin or its user can see but the process id: the same
//! config run in process and then with `isolate = true` gives the same exit code, the same
//! dead letters, the same counts, and the same messages for a plugin's own errors (a
//! `set_error` on failure, a recovered Go panic, a refused config).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::config::Config;
use crate::disk::message;
use crate::faults::{children, faults, idle_producer, loaded, terminate, Isolate};
use crate::support::{drained, eventually, log_fields, Env, Output, C, GO_FIXTURES, RUST_FIXTURES, SETTLE_LIMIT};

/// What a run shows of consumer "faulty": the exit code, its dead letters (without their
/// error), the distinct errors its dead letters carry, its counters, and the distinct error
/// lines about it (without their time, and with the tag ", isolated" taken out). How the
/// events were cut into batches is left out: it depends on timing, and an isolated
/// consumer's batches are larger by default.
#[derive(Debug, PartialEq)]
struct Seen {
    code: i32,
    dead_letters: Vec<Value>,
    dead_letter_errors: BTreeSet<String>,
    counters: Vec<(String, u64)>,
    errors: BTreeSet<String>,
    digest: Value,
}

/// Runs the C sequence (300 events) into a digest and "faulty" from `library` with
/// `config`, dead-lettering to dlq.jsonl, beside the idle producer; isolated when
/// `isolated`, and then checked to be: a child of the host has the library loaded. A config
/// the host accepts runs until the sequence has finished, and is then stopped with SIGTERM.
fn run(library: &str, plugin: &str, config: Value, isolated: bool) -> (Seen, Output) {
    let env = Env::new();
    faults(&env);
    let entry = Config::sequence_into_digest(json!({ "count": 300, "payload_bytes": 16 }))
        .consumer("faulty", library)
        .plugin(plugin)
        .config(config)
        .set("retry", json!({ "attempts": 2, "backoff": "1ms..5ms" }))
        .set("dead_letter", "dlq.jsonl")
        // Isolated consumers take larger batches by default; with one size, both runs cut
        // the 300 events into several batches, and so meet the same messages.
        .set("batch", 64);
    let entry = if isolated { entry.isolated(0, "10ms..20ms") } else { entry };
    env.write_config(&idle_producer(entry));
    let mut running = env.spawn();
    let host = running.pid().as_raw();
    let refused = running.wait_for_line_or_exit("producer finished producer=seq").is_none();
    if isolated && !refused {
        eventually(SETTLE_LIMIT, &format!("a worker of the host with {library} loaded"), || {
            children(host).iter().any(|child| loaded(child.pid, library))
        });
        assert!(!loaded(host, library), "the host itself loaded {library}");
    }
    let out = if refused { running.wait() } else { terminate(running).0 };
    let code = out.code();
    if refused {
        let seen = Seen {
            code,
            dead_letters: Vec::new(),
            dead_letter_errors: BTreeSet::new(),
            counters: Vec::new(),
            errors: BTreeSet::from([env.redact(&out.stderr)]),
            digest: Value::Null,
        };
        return (seen, out);
    }
    let mut dead_letters = if env.path("dlq.jsonl").exists() { env.json_lines("dlq.jsonl") } else { Vec::new() };
    let dead_letter_errors = dead_letters
        .iter_mut()
        .map(|letter| {
            let error = letter.as_object_mut().and_then(|o| o.remove("evhosterror"));
            error.and_then(|e| e.as_str().map(str::to_string)).expect("an evhosterror")
        })
        .collect();
    let counters = ["delivered", "dead_lettered", "lost", "retries"]
        .iter()
        .map(|key| (key.to_string(), drained(&out.stderr, "faulty", key)))
        .collect();
    let errors = out
        .stderr
        .lines()
        .filter(|l| {
            (l.contains("ERROR") || l.contains("WARN"))
                && log_fields(l).iter().any(|(k, v)| k == "consumer" && v == "faulty")
        })
        .map(|l| without_timing(&message(l).replace(", isolated", "")))
        .collect::<BTreeSet<_>>();
    (Seen { code, dead_letters, dead_letter_errors, counters, errors, digest: env.json("digest.json") }, out)
}

/// A log line without what timing decides: a retry's jittered `delay=` and how many events
/// were waiting to form the batch ("retrying 256 events", `events=256`).
fn without_timing(line: &str) -> String {
    line.split(' ')
        .filter(|word| !word.starts_with("delay=") && !word.starts_with("events="))
        .map(|word| if word.chars().all(|c| c.is_ascii_digit()) { "[N]" } else { word })
        .collect::<Vec<_>>()
        .join(" ")
}

fn same_in_and_out_of_process(library: &str, plugin: &str, config: Value) -> Seen {
    let (inside, _) = run(library, plugin, config.clone(), false);
    let (outside, out) = run(library, plugin, config, true);
    if outside != inside {
        // The dead letters alone are hundreds of lines: say what differs, and show the rest.
        let fields = [
            ("code", outside.code == inside.code),
            ("dead_letters", outside.dead_letters == inside.dead_letters),
            ("dead_letter_errors", outside.dead_letter_errors == inside.dead_letter_errors),
            ("counters", outside.counters == inside.counters),
            ("errors", outside.errors == inside.errors),
            ("digest", outside.digest == inside.digest),
        ];
        let differ: Vec<&str> = fields.iter().filter(|(_, same)| !same).map(|(what, _)| *what).collect();
        panic!(
            "isolated and in process differ in {differ:?}\nisolated: {} {:#?} {:#?} {:?}\nin process: {} {:#?} {:#?} {:?}\nthe isolated run's stderr:\n{}",
            outside.code,
            outside.errors,
            outside.dead_letter_errors,
            outside.counters,
            inside.code,
            inside.errors,
            inside.dead_letter_errors,
            inside.counters,
            out.stderr.lines().take(40).collect::<Vec<_>>().join("\n")
        );
    }
    inside
}

#[test]
fn a_consumer_that_fails_every_batch_is_dead_lettered_the_same_way() {
    let seen = same_in_and_out_of_process(RUST_FIXTURES, "faulty", json!({ "mode": "fail" }));
    assert_eq!(seen.dead_letters.len(), 300);
    assert!(seen.dead_letter_errors.iter().all(|e| e.contains("asked to fail")), "{:?}", seen.dead_letter_errors);
}

#[test]
fn a_consumer_that_retries_then_succeeds_is_retried_the_same_way() {
    let seen = same_in_and_out_of_process(RUST_FIXTURES, "faulty", json!({ "mode": "retry_then_ok", "times": 2 }));
    assert_eq!(seen.counters[0], ("delivered".to_string(), 300));
    assert_eq!(seen.counters[3], ("retries".to_string(), 2));
}

#[test]
fn a_rust_panic_is_caught_the_same_way() {
    let seen = same_in_and_out_of_process(RUST_FIXTURES, "faulty", json!({ "mode": "panic" }));
    assert_eq!(seen.code, 0);
    assert_eq!(seen.dead_letters.len(), 300);
}

#[test]
fn a_go_panic_is_recovered_the_same_way() {
    let seen = same_in_and_out_of_process(GO_FIXTURES, "panicky", json!({}));
    assert_eq!(seen.dead_letters.len(), 300);
    assert!(
        seen.dead_letter_errors.iter().any(|e| e.contains("panicky: deliberate panic in OnEvents")),
        "{:?}",
        seen.dead_letter_errors
    );
}

#[test]
fn a_refused_config_is_the_same_config_error() {
    let seen = same_in_and_out_of_process(RUST_FIXTURES, "faulty", json!({ "mode": "fail_create" }));
    assert_eq!(seen.code, 2);
    assert!(seen.errors.iter().any(|e| e.contains("asked to fail in create")), "{:?}", seen.errors);
}

#[test]
fn a_c_config_mistake_is_the_same_config_error() {
    // The C accessors run in the worker; their message and its place in the file must not.
    let seen = same_in_and_out_of_process(C, "digest", json!({ "paht": "x.json" }));
    assert_eq!(seen.code, 2);
    assert!(seen.errors.iter().any(|e| e.contains("unknown key `paht`")), "{:?}", seen.errors);
}
