//! The `schedule` producer through the real host, into the `file` consumer: interval ticks
//! with their ids and scheduled times, cron ticks on whole seconds, config mistakes.

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::{json, Value};

use crate::support::{plugin, Env};

const SCHEDULE: &str = "libevh_schedule.so";
const FILE: &str = "libevh_file.so";

/// A host with one `schedule` producer configured by `jobs` (a TOML array), writing every
/// event to events.jsonl.
fn schedule(jobs: &str) -> Env {
    let env = Env::new();
    env.config(&format!(
        r#"
[[producer]]
name = "ticks"
library = "{}"
config = {{ jobs = {jobs} }}

[[consumer]]
name = "out"
library = "{}"
config = {{ path = "events.jsonl" }}
"#,
        plugin(SCHEDULE).display(),
        plugin(FILE).display()
    ));
    env
}

/// Runs the host for `duration` after its jobs are scheduled, stops it with SIGTERM (exit
/// 0) and returns the events it wrote.
fn run_for(env: &Env, duration: Duration) -> Vec<Value> {
    let mut running = env.spawn();
    running.wait_for_line("scheduled, first tick at");
    std::thread::sleep(duration);
    running.signal(Signal::SIGTERM);
    running.wait().expect_code(0);
    env.json_lines("events.jsonl")
}

/// Milliseconds since the Unix epoch of an RFC 3339 UTC time ("2024-05-01T12:00:00.100Z").
fn epoch_ms(time: &str) -> i64 {
    let number = |range: std::ops::Range<usize>| -> i64 {
        time[range].parse().unwrap_or_else(|_| panic!("not an RFC 3339 UTC time: {time}"))
    };
    assert!(time.ends_with('Z') && time.len() >= 20, "not an RFC 3339 UTC time: {time}");
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let seconds = days * 86_400 + number(11..13) * 3_600 + number(14..16) * 60 + number(17..19);
    let millis = if time.as_bytes()[19] == b'.' {
        format!("{:0<3}", &time[20..time.len() - 1])[..3].parse().unwrap()
    } else {
        0
    };
    seconds * 1_000 + millis
}

/// Checks the attributes every tick of job `name` has; returns its time in epoch ms.
fn tick(event: &Value, name: &str) -> i64 {
    let time = event["time"].as_str().unwrap_or_else(|| panic!("a time: {event}"));
    assert_eq!(event["id"], json!(format!("{name}/{time}")), "the id is the name and the scheduled time: {event}");
    assert_eq!(event["type"], "dev.evhost.schedule.tick", "{event}");
    assert_eq!(event["source"], json!(format!("/schedule/{name}")), "{event}");
    assert_eq!(event["subject"], name, "{event}");
    assert_eq!(event["specversion"], "1.0", "{event}");
    epoch_ms(time)
}

#[test]
fn every_100ms_for_a_second_gives_about_ten_ticks_100ms_apart() {
    let env = schedule(r#"[{ name = "fast", every = "100ms", data = { hello = "world", n = 1 } }]"#);
    // A little under a second: stopping takes a moment too, and must not add a twelfth tick.
    let events = run_for(&env, Duration::from_millis(950));
    assert!((9..=11).contains(&events.len()), "{} ticks: {events:#?}", events.len());
    let times: Vec<i64> = events.iter().map(|e| tick(e, "fast")).collect();
    for event in &events {
        assert_eq!(event["data"], json!({ "hello": "world", "n": 1 }), "{event}");
        assert_eq!(event["datacontenttype"], "application/json", "{event}");
    }
    assert!(times.iter().all(|t| t % 100 == 0), "ticks fall on whole multiples of 100 ms: {times:?}");
    assert!(times.windows(2).all(|w| w[1] - w[0] == 100), "one tick every 100 ms, none missed: {times:?}");
}

#[test]
fn cron_every_second_fires_at_whole_seconds() {
    let env = schedule(r#"[{ name = "sec", cron = "* * * * * *", timezone = "Europe/Berlin" }]"#);
    let events = run_for(&env, Duration::from_millis(2500));
    assert!((2..=3).contains(&events.len()), "{} ticks: {events:#?}", events.len());
    let times: Vec<i64> = events.iter().map(|e| tick(e, "sec")).collect();
    for event in &events {
        let time = event["time"].as_str().unwrap();
        assert!(!time.contains('.'), "a whole second, without a fraction: {time}");
        assert!(
            event.get("data").is_none() && event.get("datacontenttype").is_none(),
            "no data without `data`: {event}"
        );
    }
    assert!(times.windows(2).all(|w| w[1] - w[0] == 1000), "one tick per second: {times:?}");
}

#[test]
fn jobs_tick_side_by_side() {
    let env = schedule(r#"[{ name = "a", every = "200ms" }, { name = "b", cron = "*/1 * * * * *" }]"#);
    let events = run_for(&env, Duration::from_millis(1500));
    let count = |name: &str| {
        events
            .iter()
            .filter(|e| e["subject"] == name)
            .inspect(|e| {
                tick(e, name);
            })
            .count()
    };
    assert!((6..=8).contains(&count("a")), "{events:#?}");
    assert!((1..=2).contains(&count("b")), "{events:#?}");
}

fn check_fails(jobs: &str) -> String {
    schedule(jobs).check_fails()
}

#[test]
fn config_mistakes() {
    insta::assert_snapshot!("schedule_bad_cron", check_fails(r#"[{ name = "report", cron = "*/5 * * * *" }]"#));
    insta::assert_snapshot!("schedule_bad_cron_field", check_fails(r#"[{ name = "report", cron = "0 0 25 * * *" }]"#));
    insta::assert_snapshot!("schedule_bad_duration", check_fails(r#"[{ name = "poll", every = "5 minutes" }]"#));
    insta::assert_snapshot!(
        "schedule_both_every_and_cron",
        check_fails(r#"[{ name = "x", every = "1s", cron = "* * * * * *" }]"#)
    );
    insta::assert_snapshot!(
        "schedule_unknown_timezone",
        check_fails(r#"[{ name = "x", cron = "0 0 9 * * *", timezone = "Europe/Atlantis" }]"#)
    );
    insta::assert_snapshot!(
        "schedule_duplicate_names",
        check_fails(r#"[{ name = "x", every = "1s" }, { name = "x", every = "2s" }]"#)
    );
    insta::assert_snapshot!("schedule_no_jobs", check_fails("[]"));
}
