//! The accessors' parsing: every kind of value, paths, absent keys, and the messages.

use super::*;

const CONFIG: &str = r#"{
    "name": "audit", "empty": "", "count": 1000, "negative": -3, "ratio": 0.25,
    "verbose": true, "every": "1h30m", "budget": "64MiB", "raw_bytes": 4096,
    "hosts": ["a", "b", "c"],
    "jobs": [{ "name": "poll", "every": "5 minutes" }, { "name": "ping", "every": "10s" }],
    "tls": { "ca_file": "ca.pem" }, "a.b": { "c": 7 }
}"#;

fn config() -> PluginConfig {
    PluginConfig::parse(CONFIG).expect("valid JSON")
}

fn message(result: Result<impl std::fmt::Debug, LookupError>) -> String {
    match result {
        Err(LookupError::Config { message, .. }) => format!("config: {message}"),
        Err(LookupError::Path(m)) => format!("path: {m}"),
        ok => panic!("expected an error, got {ok:?}"),
    }
}

#[test]
fn reads_every_kind_of_value() {
    let c = config();
    assert_eq!(c.string("name", true), Ok(Some("audit")));
    assert_eq!(c.string("empty", true), Ok(Some("")));
    assert_eq!(c.uint("count", true), Ok(Some(1000)));
    assert_eq!(c.int("negative", true), Ok(Some(-3)));
    assert_eq!(c.int("count", true), Ok(Some(1000)));
    assert_eq!(c.float("ratio", true), Ok(Some(0.25)));
    assert_eq!(c.float("count", true), Ok(Some(1000.0)));
    assert_eq!(c.bool("verbose", true), Ok(Some(true)));
    assert_eq!(c.duration("every", true), Ok(Some(Duration::from_secs(5400))));
    assert_eq!(c.size("budget", true), Ok(Some(64 << 20)));
    assert_eq!(c.size("raw_bytes", true), Ok(Some(4096)));
    assert_eq!(c.len("hosts", true), Ok(Some(3)));
}

#[test]
fn paths_reach_into_tables_and_arrays() {
    let c = config();
    assert_eq!(c.string("hosts[2]", true), Ok(Some("c")));
    assert_eq!(c.string("jobs[1].name", true), Ok(Some("ping")));
    assert_eq!(c.duration("jobs[1].every", true), Ok(Some(Duration::from_secs(10))));
    assert_eq!(c.string("tls.ca_file", true), Ok(Some("ca.pem")));
    assert_eq!(c.uint("\"a.b\".c", true), Ok(Some(7)));
}

#[test]
fn absent_keys_are_none_unless_required() {
    let c = config();
    assert_eq!(c.uint("batch", false), Ok(None));
    assert_eq!(c.string("hosts[3]", false), Ok(None));
    assert_eq!(c.string("tls.cert_file", false), Ok(None));
    assert_eq!(c.check_keys("nowhere", &["x"]), Ok(()));
    assert_eq!(message(c.uint("batch", true)), "config: missing key `batch`; add `batch = 1` to the `config` table");
}

#[test]
fn wrong_types_and_ranges_name_the_key_and_the_fix() {
    let c = config();
    let cases = [
        message(c.uint("name", true)),
        message(c.uint("negative", true)),
        message(c.int("ratio", true)),
        message(c.string("count", true)),
        message(c.bool("name", true)),
        message(c.float("verbose", true)),
        message(c.duration("count", true)),
        message(c.duration("jobs[0].every", true)),
        message(c.duration("verbose", true)),
        message(c.size("name", true)),
        message(c.len("tls", true)),
        message(c.string("tls.ca_file.x", true)),
        message(c.string("count[0]", true)),
    ];
    insta::assert_snapshot!(cases.join("\n"));
}

#[test]
fn unknown_keys_get_a_suggestion() {
    let c = config();
    assert_eq!(c.check_keys("tls", &["ca_file"]), Ok(()));
    assert_eq!(
        message(c.check_keys("tls", &["ca_fil", "verify"])),
        "config: unknown key `tls.ca_file`; did you mean `ca_fil`?"
    );
    let top = [
        "name",
        "empty",
        "count",
        "negative",
        "ratio",
        "verbose",
        "every",
        "budget",
        "raw_bytes",
        "jobs",
        "tls",
        "a.b",
    ];
    assert_eq!(message(c.check_keys("", &top)), "config: unknown key `hosts`; remove it; the keys accepted here are name, empty, count, negative, ratio, verbose, every, budget, raw_bytes, jobs, tls, a.b");
    assert_eq!(
        message(c.check_keys("count", &[])),
        "config: `count` = 1000 is an integer; write a table, e.g. count = {}"
    );
}

#[test]
fn bad_paths_are_the_plugins_mistake() {
    let c = config();
    let cases = ["", ".a", "a.", "a..b", "a[", "a[x]", "a[-1]", "a]", "a[0]b", "\"a", "a\"b", "a.[0]"]
        .map(|path| format!("{path:?} -> {}", message(c.string(path, true))));
    insta::assert_snapshot!(cases.join("\n"));
}
