//! Consumers of a disk log change between restarts. A consumer's identity is its name: one
//! that stays resumes where it was; one added starts at the log's end (`start = "end"`, the
//! default) or takes everything the log still holds (`start = "beginning"`); one removed is
//! named in a WARN and no longer holds back retention, so a full log is not blocked by a
//! consumer that is gone.

use std::collections::BTreeSet;

use serde_json::json;

use crate::config::Config;
use crate::disk::{disk_log, lines_with, message, recorded, recorder, recovered};
use crate::support::{Env, C};

/// `sequence` of `count` events into the disk log `log`.
fn sequence(log: serde_json::Value, count: u64) -> Config {
    Config::new().table("log", log).producer("seq", C).plugin("sequence").config(json!({ "count": count }))
}

fn seqs(env: &Env, consumer: &str) -> Vec<u64> {
    recorded(env, consumer).into_iter().map(|(_, seq)| seq).collect()
}

#[test]
fn a_consumer_added_starts_at_the_end_or_with_start_beginning_at_the_beginning() {
    let env = Env::new();
    recorder(&env);
    env.write_config(&sequence(disk_log(json!({})), 100).consumer("old", "librecorder.so"));
    env.run().expect_code(0);
    let first_run = seqs(&env, "old");
    assert_eq!(first_run.len(), 100);

    env.write_config(
        &sequence(disk_log(json!({})), 100)
            .consumer("old", "librecorder.so")
            .consumer("late", "librecorder.so")
            .consumer("replay", "librecorder.so")
            .set("start", "beginning"),
    );
    let out = env.run();
    out.expect_code(0);
    let old = seqs(&env, "old");
    assert_eq!(old.len(), 200, "`old` resumed after the 100 it had, and got the 100 new ones once");
    let second_run = &old[100..];
    assert!(old.windows(2).all(|w| w[0] < w[1]), "in order, none twice: {old:?}");
    assert_eq!(seqs(&env, "late"), second_run, "`late` (start = \"end\") got only what came after it joined");
    // The log is one segment, never deleted while it is written to: it still holds both runs.
    let (first, _) = recovered(&out.stderr);
    assert_eq!(first, old[0], "the log still begins with the first run");
    assert_eq!(seqs(&env, "replay"), old, "`replay` (start = \"beginning\") got everything, in order");
}

#[test]
fn a_consumer_removed_is_named_and_no_longer_holds_back_retention() {
    let env = Env::new();
    recorder(&env);
    // Small segments and a disk budget a fifth of the second run's events (which allows
    // events of at most half the budget).
    let log = disk_log(json!({ "segment_bytes": "64KiB", "max_bytes": "256KiB" }));
    // `gone` acknowledges nothing: at the end of this run it still holds every event back.
    env.write_config(
        &sequence(log.clone(), 500)
            .table("host", json!({ "drain_timeout": "1s", "max_event_bytes": "16KiB" }))
            .consumer("kept", "librecorder.so")
            .consumer("gone", "librecorder.so")
            .set("policy", "block")
            .config(json!({ "hold": true })),
    );
    env.run().expect_code(1);
    assert_eq!(seqs(&env, "kept").len(), 500);
    assert!(seqs(&env, "gone").is_empty());

    // Without `gone`, 20 000 events pass through a log with room for a few thousand.
    env.write_config(
        &sequence(log, 20_000).table("host", json!({ "max_event_bytes": "16KiB" })).consumer("kept", "librecorder.so"),
    );
    let out = env.run();
    out.expect_code(0);
    let warned = lines_with(&out.stderr, "consumer \"gone\" is in the log's ledger but not in the config");
    assert_eq!(warned.len(), 1, "the removed consumer is named once; stderr:\n{}", out.stderr);
    insta::assert_snapshot!("disk_consumer_removed", message(warned[0]));
    let kept: BTreeSet<u64> = seqs(&env, "kept").into_iter().collect();
    assert_eq!(kept.len(), 20_500, "`kept` got both runs' events");
    assert!(seqs(&env, "gone").is_empty(), "`gone` was never loaded again");
}
