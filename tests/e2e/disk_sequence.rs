//! The C `sequence` producer (200 000 events) into a disk log and on to `file`, with
//! several kill -9 and restarts on the same folder; the producer starts again from 0 each
//! time, and the last run finishes by itself. The file then holds every id from 0 to
//! 199 999 and only whole lines. Beside `file`, the `recorder` keeps each event's sequence
//! number: one number never names two events, across every crash (numbering resumes after
//! what the log holds, never reusing a number a consumer was given).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::json;

use crate::config::Config;
use crate::disk::{disk_log, file_events, recorded, recorder, FILE};
use crate::fixture::MEMORY_CAP_KIB;
use crate::support::{Env, C};

const COUNT: u64 = 200_000;
const KILLS: usize = 4;

#[test]
fn sequence_into_file_across_kill_9_holds_every_id() {
    let started = Instant::now();
    let env = Env::new();
    recorder(&env);
    env.write_config(
        &Config::new()
            .table("log", disk_log(json!({})))
            .producer("seq", C)
            .plugin("sequence")
            .config(json!({ "count": COUNT, "payload_bytes": 8 }))
            .consumer("file", FILE)
            .config(json!({ "path": "events.jsonl", "fsync": "batch" }))
            .consumer("seqs", "librecorder.so"),
    );
    let mut kills = 0;
    for _ in 0..KILLS {
        let mut host = env.spawn_capped(MEMORY_CAP_KIB);
        host.wait_for_line("evhost is running");
        // Killed once `file` has written a random 1 000 to 20 000 more events (~220 bytes each).
        let size = || std::fs::metadata(env.path("events.jsonl")).map_or(0, |m| m.len());
        let target = size() + fastrand::u64(220_000..4_400_000);
        let deadline = Instant::now() + Duration::from_secs(5);
        while size() < target && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        host.signal(Signal::SIGKILL);
        let out = host.wait();
        match out.status.code() {
            None => kills += 1,
            Some(0) => println!("a run finished before its kill"),
            Some(code) => panic!("exit {code} before the kill:\n{}", out.stderr),
        }
        println!(
            "after kill: {} bytes in events.jsonl",
            std::fs::metadata(env.path("events.jsonl")).map_or(0, |m| m.len())
        );
    }
    assert!(kills >= 3, "only {kills} of {KILLS} runs were still going when killed: make the runs longer");
    let numbered_before = distinct_seqs(&env);
    let out = env.spawn_capped(MEMORY_CAP_KIB).wait();
    out.expect_code(0);

    let events = file_events(&env);
    let mut missing = vec![true; COUNT as usize];
    for event in &events {
        let id = event["id"].as_str().expect("an id");
        let k: usize = id.parse().unwrap_or_else(|_| panic!("id {id:?} is not a number"));
        missing[k] = false;
    }
    let missing: Vec<usize> = (0..COUNT as usize).filter(|&k| missing[k]).collect();
    assert!(
        missing.is_empty(),
        "{} ids never reached the file, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );

    let mut named: HashMap<u64, String> = HashMap::new();
    let seqs = recorded(&env, "seqs");
    for (id, seq) in &seqs {
        let first = named.entry(*seq).or_insert_with(|| id.clone());
        assert_eq!(first, id, "sequence number {seq} named two events, {first} and {id}");
    }
    // The last run's events are numbered after everything the killed runs left in the log.
    assert!(
        named.len() >= numbered_before + COUNT as usize,
        "the last run's {COUNT} events took sequence numbers the killed runs' events had: \
         {numbered_before} numbers before it, {} after",
        named.len()
    );
    println!(
        "{kills} kills, {:?}: file {} lines ({} beyond one run), recorder {} lines, {} sequence numbers",
        started.elapsed(),
        events.len(),
        events.len() as u64 - COUNT,
        seqs.len(),
        named.len()
    );
}

/// How many sequence numbers the recorder has seen.
fn distinct_seqs(env: &Env) -> usize {
    recorded(env, "seqs").into_iter().map(|(_, seq)| seq).collect::<HashSet<_>>().len()
}
