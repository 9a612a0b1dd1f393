//! Recovery of a damaged disk log. A first run fills the log while one consumer, `held`,
//! acknowledges nothing (it waits for `held.go`), so every event is still owed to it; the
//! test then damages a segment the way a crash or a bad disk does and starts the host again
//! with `held` released. A torn tail (garbage after the last record, or the last record cut
//! short) is cut with a WARN saying how many bytes; a flipped byte in the middle of a
//! segment moves the events of that record to a quarantine file with an ERROR naming the
//! range. Everything else is delivered, and the host always starts. Also: sequence numbers
//! keep increasing across restarts.
//!
//! Nothing here knows the record format: segments are found by name (their first sequence
//! number) and damaged at their end or in their middle by size.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde_json::json;

use crate::config::Config;
use crate::disk::{disk_log, lines_with, message, recorded, recorder, segments};
use crate::support::{Env, Output, C};

/// Events of the first run, 64 bytes of data each: several segments of `SEGMENT`.
const COUNT: u64 = 2000;
const SEGMENT: &str = "64KiB";

/// A folder whose disk log holds `COUNT` events that consumer `held` has not acknowledged;
/// consumer `all` saw them all. Returns the folder and the sequence numbers `all` saw.
fn filled_log() -> (Env, BTreeSet<u64>) {
    let env = Env::new();
    recorder(&env);
    env.write_config(&config(COUNT, "1s", 0));
    // `held` never returns from its first batch: the drain deadline ends the run, exit 1.
    let out = env.run();
    out.expect_code(1);
    let all: BTreeSet<u64> = recorded(&env, "all").into_iter().map(|(_, seq)| seq).collect();
    assert_eq!(all.len() as u64, COUNT, "`all` saw every event of the first run");
    assert!(recorded(&env, "held").is_empty(), "`held` acknowledged nothing");
    assert!(segments(&env.path("evlog")).len() >= 3, "the first run filled several segments");
    (env, all)
}

/// `sequence` of `count` events into a disk log of small segments, recorders `all` and
/// `held` (`held_ms` a batch), and `drain` to deliver what is left when the producer is done.
fn config(count: u64, drain: &str, held_ms: u64) -> Config {
    Config::new()
        .table("host", json!({ "drain_timeout": drain }))
        .table("log", disk_log(json!({ "segment_bytes": SEGMENT })))
        .producer("seq", C)
        .plugin("sequence")
        .config(json!({ "count": count }))
        .consumer("all", "librecorder.so")
        .consumer("held", "librecorder.so")
        .config(json!({ "hold": true, "sleep_ms": held_ms }))
}

/// Releases `held` and runs the host again with a producer that has nothing to send: it
/// recovers the log, drains it to `held` (`held_ms` a batch: a `held` that takes its time
/// reaches the newest events long after the writer is ready), and stops by itself.
fn restart(env: &Env, held_ms: u64) -> Output {
    env.write("held.go", "");
    env.write_config(&config(0, "10s", held_ms));
    let out = env.run();
    out.expect_code(0);
    out
}

/// The sequence numbers `held` was given.
fn delivered(env: &Env) -> BTreeSet<u64> {
    recorded(env, "held").into_iter().map(|(_, seq)| seq).collect()
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).len()
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn garbage_after_the_last_record_is_cut_and_every_event_delivered() {
    let (env, all) = filled_log();
    let last = segments(&env.path("evlog")).pop().unwrap();
    OpenOptions::new().append(true).open(&last).unwrap().write_all(&[0xFF; 11]).unwrap();

    let out = restart(&env, 20);
    let cuts = lines_with(&out.stderr, "log recovery: cut a torn record");
    assert_eq!(cuts.len(), 1, "one cut; stderr:\n{}", out.stderr);
    insta::assert_snapshot!("disk_torn_tail", env.redact(message(cuts[0])));
    assert!(
        cuts[0].contains("cut a torn record of 11 bytes at the end of") && cuts[0].contains(&file_name(&last)),
        "names the bytes and the segment: {}",
        cuts[0]
    );
    assert!(lines_with(&out.stderr, "corrupt record").is_empty(), "nothing quarantined:\n{}", out.stderr);
    assert_eq!(delivered(&env), all, "every event delivered");
}

#[test]
fn a_last_record_cut_short_is_cut_and_every_whole_record_delivered() {
    let (env, all) = filled_log();
    let last = segments(&env.path("evlog")).pop().unwrap();
    let torn = size(&last) - 5;
    OpenOptions::new().write(true).open(&last).unwrap().set_len(torn).unwrap();

    let out = restart(&env, 20);
    let cuts = lines_with(&out.stderr, "log recovery: cut a torn record of ");
    assert_eq!(cuts.len(), 1, "one cut; stderr:\n{}", out.stderr);
    assert!(cuts[0].contains(&file_name(&last)), "names the segment: {}", cuts[0]);
    let bytes: u64 = cuts[0]
        .split("cut a torn record of ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no byte count in {}", cuts[0]));
    assert!(bytes > 0 && bytes < torn, "a part of one record: {}", cuts[0]);
    assert!(lines_with(&out.stderr, "corrupt record").is_empty(), "nothing quarantined:\n{}", out.stderr);

    // The cut record held the newest events: all the others are delivered.
    let got = delivered(&env);
    let newest = *got.last().expect("events delivered");
    let kept: BTreeSet<u64> = all.iter().copied().filter(|&seq| seq <= newest).collect();
    assert_eq!(got, kept, "every event of the first run up to {newest} delivered");
    let lost = all.len() - got.len();
    assert!(lost > 0 && lost < all.len() / 2, "only the torn record's events are gone ({lost})");
    println!("cut {bytes} bytes: the last record, {lost} events");
}

#[test]
fn a_flipped_byte_quarantines_its_record_and_the_rest_is_delivered() {
    let (env, all) = filled_log();
    let log = env.path("evlog");
    let found = segments(&log);
    let middle = &found[found.len() / 2];
    let at = size(middle) / 2;
    let mut file = OpenOptions::new().read(true).write(true).open(middle).unwrap();
    let mut byte = [0u8];
    file.seek(SeekFrom::Start(at)).unwrap();
    file.read_exact(&mut byte).unwrap();
    file.seek(SeekFrom::Start(at)).unwrap();
    file.write_all(&[byte[0] ^ 0xFF]).unwrap();
    drop(file);

    let out = restart(&env, 20);
    let corrupt = lines_with(&out.stderr, "log recovery: corrupt record in ");
    assert_eq!(corrupt.len(), 1, "one corrupt record; stderr:\n{}", out.stderr);
    let line = corrupt[0];
    insta::assert_snapshot!("disk_corrupt_record", env.redact(message(line)));
    assert!(line.contains(&file_name(middle)), "names the segment: {line}");
    assert!(line.contains("they will not be delivered"), "{line}");
    let (first, last, quarantine) = quarantined(line);
    let offset = after(line, " at byte ").parse::<u64>().unwrap_or_else(|_| panic!("no offset in {line}"));
    assert!(offset <= at, "the corrupt record starts at or before the flipped byte {at}: {line}");
    assert!(first <= last && all.contains(&first) && all.contains(&last), "a range of the log's events: {line}");
    let quarantine = log.join("quarantine").join(Path::new(&quarantine).file_name().expect("a file name"));
    assert!(quarantine.is_file() && size(&quarantine) > 0, "{} holds the events", quarantine.display());
    assert!(lines_with(&out.stderr, "cut a torn record").is_empty(), "nothing cut:\n{}", out.stderr);

    let rest: BTreeSet<u64> = all.iter().copied().filter(|seq| !(first..=last).contains(seq)).collect();
    assert!(rest.len() as u64 > COUNT / 2, "most events survive one flipped byte: {line}");
    assert_eq!(delivered(&env), rest, "everything but the quarantined events {first} to {last} delivered");

    // Started again, the host starts, and the quarantine stays where it was.
    let again = restart(&env, 20);
    assert!(quarantine.is_file(), "the quarantine file stays");
    println!(
        "quarantined events {first} to {last}; a second restart reported it again: {}",
        !lines_with(&again.stderr, "corrupt record").is_empty()
    );
}

/// The text of `line` after `marker`, up to the next space.
fn after<'a>(line: &'a str, marker: &str) -> &'a str {
    let rest = line.split_once(marker).unwrap_or_else(|| panic!("no {marker:?} in {line}")).1;
    rest.split([' ', ':', ';']).next().unwrap()
}

/// The first and last sequence numbers and the quarantine file of a "corrupt record" line.
fn quarantined(line: &str) -> (u64, u64, String) {
    let number =
        |marker| after(line, marker).parse().unwrap_or_else(|_| panic!("no number after {marker:?} in {line}"));
    let file = line
        .split_once(" moved to ")
        .and_then(|(_, rest)| rest.split_once("; they will not be delivered"))
        .unwrap_or_else(|| panic!("no quarantine file in {line}"))
        .0;
    (number(": events "), number(" to "), file.to_string())
}

#[test]
fn sequence_numbers_keep_increasing_across_restarts() {
    let env = Env::new();
    recorder(&env);
    let config = Config::new()
        .table("log", disk_log(json!({})))
        .producer("seq", C)
        .plugin("sequence")
        .config(json!({ "count": 100 }))
        .consumer("all", "librecorder.so");
    env.write_config(&config);
    env.run().expect_code(0);
    let first_run = recorded(&env, "all");
    env.run().expect_code(0);
    let both = recorded(&env, "all");
    assert_eq!(both.len(), 200, "100 events a run, each once");
    let seqs: Vec<u64> = both.iter().map(|(_, seq)| *seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "strictly increasing across the restart: {seqs:?}");
    assert_eq!(both[..100], first_run[..]);
    assert_eq!(both[100].0, "0", "the second run's first event");
}

/// A kill -9 in the middle of a stream, with `held` far behind: after the restart `held`
/// gets every event `all` had been given before the kill (consumers read only committed
/// events, so each of those was committed), and the host drains and stops by itself.
#[test]
fn after_kill_9_a_consumer_far_behind_gets_every_event_another_one_saw() {
    let env = Env::new();
    recorder(&env);
    env.write_config(&config(300_000, "1s", 0));
    let host = env.spawn();
    crate::support::eventually(crate::support::SETTLE_LIMIT, "20 000 events at `all`", || {
        env.lines_so_far("all.ids") >= 20_000
    });
    host.signal(nix::sys::signal::Signal::SIGKILL);
    assert_eq!(host.wait().status.code(), None, "killed");
    let seen: BTreeSet<u64> = recorded(&env, "all").into_iter().map(|(_, seq)| seq).collect();

    let out = restart(&env, 0);
    let got = delivered(&env);
    println!(
        "{} seen by `all` before the kill, {} delivered to `held`; {}",
        seen.len(),
        got.len(),
        lines_with(&out.stderr, "disk log recovered")[0]
    );
    let missing: Vec<u64> = seen.difference(&got).copied().collect();
    assert!(
        missing.is_empty(),
        "{} of the {} events `all` saw never reached `held`, e.g. {:?}; stderr:\n{}",
        missing.len(),
        seen.len(),
        &missing[..missing.len().min(10)],
        out.stderr
    );
}
