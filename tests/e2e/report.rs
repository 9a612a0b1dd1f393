//! `evhost run --report FILE`: a JSON account of how the run ended and what each instance
//! did, written whatever the outcome. The counts must equal what the consumers saw.

use serde_json::{json, Value};

use crate::config::Config;
use crate::support::{Env, RUST_FIXTURES};

fn run_with_report(env: &Env, code: i32) -> Value {
    env.evhost(&["run", "-c", "evhost.toml", "--report", "report.json"]).expect_code(code);
    env.json("report.json")
}

#[test]
fn a_clean_run_reports_every_instance_and_what_it_delivered() {
    let env = Env::with(&Config::sequence_into_digest(json!({ "count": 1000 })));
    let report = run_with_report(&env, 0);
    assert_eq!(report["outcome"], "clean");
    assert_eq!(report["failures"], json!([]));
    assert_eq!(report["producers"], json!([{ "name": "seq", "state": "finished" }]));
    let digest = &report["consumers"][0];
    assert_eq!((&digest["name"], &digest["state"]), (&json!("digest"), &json!("drained")));
    // The report's count is the consumer's own count.
    assert_eq!(digest["delivered"], env.json("digest.json")["count"]);
    assert_eq!(digest["delivered"], 1000);
    for counter in ["dead_lettered", "lost", "dropped", "retries", "pending"] {
        assert_eq!(digest[counter], 0, "{counter}: {report:#}");
    }
}

#[test]
fn lost_dead_letters_make_a_failed_report() {
    let env = Env::with(
        &Config::sequence_into_digest(json!({ "count": 100 }))
            .consumer("faulty", RUST_FIXTURES)
            .plugin("faulty")
            .config(json!({ "mode": "fail" }))
            .set("dead_letter", "/dev/full"),
    );
    let report = run_with_report(&env, 1);
    assert_eq!(report["outcome"], "failed");
    let faulty = report["consumers"].as_array().unwrap().iter().find(|c| c["name"] == "faulty").unwrap();
    assert_eq!((&faulty["state"], &faulty["lost"], &faulty["delivered"]), (&json!("drained"), &json!(100), &json!(0)));
    let failures = report["failures"].as_array().unwrap();
    assert!(failures.iter().any(|f| f.as_str().unwrap().contains("\"faulty\" lost 100 events")), "{report:#}");
}

#[test]
fn a_setup_error_is_reported_too() {
    let env = Env::new();
    env.config("librari = \"x.so\"\n");
    let report = run_with_report(&env, 2);
    assert_eq!(report["outcome"], "setup_failed");
    assert!(report["failures"][0].as_str().unwrap().starts_with("unknown key `librari`"), "{report:#}");
    assert_eq!((&report["producers"], &report["consumers"]), (&json!([]), &json!([])));
}
