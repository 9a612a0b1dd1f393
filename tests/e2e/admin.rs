//! The admin endpoint through the real binary: `/metrics` after a known run equals what the
//! consumers saw and parses as Prometheus text (strictly here, and with the Python
//! `prometheus_client` parser when it is installed); `/readyz` is 503 naming the instances
//! while an `on_create` is slow, then 200, and 503 naming a stuck consumer; the token; and
//! the endpoint's bad inputs.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::{json, Value};

use crate::config::Config;
use crate::fixture::{self, c_plugin};
use crate::support::{eventually, free_port, Env, C, SETTLE_LIMIT};

/// `GET path` on the admin port: the status and the body.
pub fn get(port: u16, path: &str, token: Option<&str>) -> (u16, String) {
    let mut request = ureq::get(&format!("http://127.0.0.1:{port}{path}")).timeout(Duration::from_secs(5));
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    match request.call() {
        Ok(response) => (response.status(), response.into_string().expect("a text body")),
        Err(ureq::Error::Status(code, response)) => (code, response.into_string().expect("a text body")),
        Err(e) => panic!("GET {path} on the admin port {port} failed: {e}"),
    }
}

/// The `idle` producer (emits nothing, runs until stopped) compiled into the test folder, so
/// a host stays up to be asked after the sequence finished.
fn idle_library(env: &Env) -> String {
    fixture::misbehaving_consumer(env, "*handled = n; return EVH_OK;").display().to_string()
}

/// One sample of the exposition: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parses the Prometheus text format strictly: every sample belongs to a family declared
/// by `# HELP` and `# TYPE` just before, counters end in `_total`, label values are quoted,
/// and each histogram's buckets rise to `+Inf`, which equals its `_count`.
fn parse_strictly(text: &str) -> Vec<Sample> {
    assert!(text.ends_with('\n'), "the exposition ends with a newline");
    let mut samples = Vec::new();
    let mut family: Option<(String, String)> = None;
    let mut help: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help = Some(rest.split_once(' ').expect("HELP name text").0.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert_eq!(help.as_deref(), Some(name), "TYPE {name} right after its HELP");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "type {kind}");
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counter {name} ends in _total");
            }
            family = Some((name.to_string(), kind.to_string()));
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "unexpected line {line:?}");
        let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{value} is not a number in {line:?}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.strip_suffix('}').expect("labels end with }")),
            None => (series, ""),
        };
        let (family_name, kind) = family.as_ref().unwrap_or_else(|| panic!("{line:?} before any TYPE"));
        let suffixes: &[&str] = if kind == "histogram" { &["_bucket", "_sum", "_count"] } else { &[""] };
        assert!(
            suffixes.iter().any(|s| name == format!("{family_name}{s}")),
            "{name} does not belong to the family {family_name} ({kind})"
        );
        let mut map = BTreeMap::new();
        for pair in split_labels(labels) {
            let (key, quoted) = pair.split_once('=').expect("label=value");
            assert!(key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "label name {key}");
            let value = quoted.strip_prefix('"').and_then(|v| v.strip_suffix('"')).expect("a quoted label value");
            map.insert(key.to_string(), value.to_string());
        }
        samples.push((name.to_string(), map, value));
    }
    check_histograms(&samples);
    samples
}

/// Label pairs, split at the commas outside quotes.
fn split_labels(labels: &str) -> Vec<&str> {
    let (mut pairs, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    for (i, c) in labels.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                pairs.push(&labels[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < labels.len() {
        pairs.push(&labels[start..]);
    }
    pairs
}

fn check_histograms(samples: &[Sample]) {
    let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for (name, labels, value) in samples.iter().filter(|(name, ..)| name.ends_with("_bucket")) {
        let mut rest = labels.clone();
        let le = rest.remove("le").expect("a bucket has le");
        let bound = if le == "+Inf" { f64::INFINITY } else { le.parse().expect("le is a number") };
        series.entry(format!("{}{rest:?}", name.trim_end_matches("_bucket"))).or_default().push((bound, *value));
    }
    for (key, buckets) in series {
        assert!(buckets.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1), "{key}: buckets rise");
        assert_eq!(buckets.last().unwrap().0, f64::INFINITY, "{key} ends with +Inf");
        let base = key.split('{').next().unwrap();
        let count = samples
            .iter()
            .find(|(name, labels, _)| name == &format!("{base}_count") && format!("{base}{labels:?}") == key);
        assert_eq!(count.map(|c| c.2), Some(buckets.last().unwrap().1), "{key}: +Inf equals _count");
    }
}

/// The value of `name` for `instance` (or of the unlabelled series when `instance` is "").
fn value(samples: &[Sample], name: &str, instance: &str) -> f64 {
    samples
        .iter()
        .find(|(n, labels, _)| n == name && labels.get("instance").map_or("", String::as_str) == instance)
        .unwrap_or_else(|| panic!("no {name} for {instance:?}"))
        .2
}

/// Parses `text` with the Python `prometheus_client` parser, when it is installed: the
/// reference parser's samples, as (name, labels, value). None (with a note) without it.
fn parse_with_prometheus_client(text: &str) -> Option<Vec<Sample>> {
    const SCRIPT: &str = "import json, sys\n\
        from prometheus_client.parser import text_string_to_metric_families\n\
        print(json.dumps([[s.name, s.labels, s.value] for f in text_string_to_metric_families(sys.stdin.read()) for s in f.samples]))\n";
    let probe = Command::new("python3").args(["-c", "import prometheus_client"]).output();
    if !probe.is_ok_and(|out| out.status.success()) {
        eprintln!("skipped: the prometheus_client check (`pip install prometheus_client` to run it)");
        return None;
    }
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python3");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client refused the exposition:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples: Vec<(String, BTreeMap<String, String>, f64)> = serde_json::from_slice(&out.stdout).unwrap();
    Some(samples)
}

#[test]
fn metrics_after_a_known_run_equal_what_the_consumers_saw() {
    let env = Env::new();
    let port = free_port();
    let idle = idle_library(&env);
    env.write_config(
        &Config::new()
            .table("admin", json!({ "listen": format!("127.0.0.1:{port}") }))
            .producer("seq", C)
            .plugin("sequence")
            .config(json!({ "count": 1000, "batch": 100 }))
            .producer("idle", &idle)
            .plugin("idle")
            .digest(),
    );
    let mut host = env.start(&["run", "-c", "evhost.toml", "--report", "report.json"]);
    host.wait_for_line("evhost is running");
    let received = |text: &str| {
        parse_strictly(text)
            .iter()
            .any(|(n, l, v)| n == "evhost_received_events_total" && l["instance"] == "digest" && *v == 1000.0)
    };
    eventually(SETTLE_LIMIT, "the digest to receive 1000 events", || received(&get(port, "/metrics", None).1));
    let (code, text) = get(port, "/metrics", None);
    assert_eq!(code, 200);
    let samples = parse_strictly(&text);
    assert_eq!(value(&samples, "evhost_emitted_events_total", "seq"), 1000.0);
    assert_eq!(value(&samples, "evhost_batches_total", "seq"), 10.0, "10 emits of 100");
    assert_eq!(value(&samples, "evhost_emitted_events_total", "idle"), 0.0);
    assert_eq!(value(&samples, "evhost_consumer_lag_events", "digest"), 0.0);
    assert_eq!(value(&samples, "evhost_errors_total", "digest"), 0.0);
    let calls = value(&samples, "evhost_batches_total", "digest");
    assert_eq!(value(&samples, "evhost_on_events_duration_seconds_count", "digest"), calls, "one observation per call");
    assert_eq!(value(&samples, "evhost_log_capacity_events", ""), 65536.0);
    let build = samples.iter().find(|(n, ..)| n == "evhost_build_info").expect("build info");
    assert_eq!((build.1["version"].as_str(), build.1["abi"].as_str()), (env!("CARGO_PKG_VERSION"), "1.2"));
    let labels =
        &samples.iter().find(|(n, l, _)| n == "evhost_received_events_total" && l["instance"] == "digest").unwrap().1;
    assert_eq!((labels["plugin"].as_str(), labels["kind"].as_str()), ("digest", "consumer"));
    if let Some(reference) = parse_with_prometheus_client(&text) {
        let find = |name: &str| {
            reference
                .iter()
                .find(|(n, l, _)| n == name && l.get("instance").is_some_and(|i| i == "digest"))
                .map(|s| s.2)
        };
        // prometheus_client names counter samples with their _total, as they are exposed.
        assert_eq!(find("evhost_received_events_total"), Some(1000.0));
        assert_eq!(reference.len(), samples.len(), "both parsers see every sample");
    }

    host.signal(Signal::SIGTERM);
    host.wait().expect_code(0);
    // The consumer's own count, and the report, say the same.
    assert_eq!(env.json("digest.json")["count"], 1000);
    let report = env.json("report.json");
    assert_eq!(report["consumers"][0]["delivered"], 1000);
}

/// A producer whose `on_create` waits until the test creates `go` in its folder.
fn slow_producer(env: &Env) -> String {
    let code = r#"
static evh_status create(const evh_create_args *args, void **out)
{
    char path[4096];
    snprintf(path, sizeof path, "%.*s/go", (int)args->config_dir.len, (const char *)args->config_dir.ptr);
    touch(args, "creating");
    while (access(path, F_OK) != 0) sleep_ms(10);
    *out = NULL;
    return EVH_OK;
}
static evh_status start(void *self) { (void)self; return EVH_OK; }
static void stop(void *self) { (void)self; }
"#;
    let hooks = [("on_create", "create"), ("on_start", "start"), ("on_stop", "stop")];
    let source = c_plugin("EVH_KIND_PRODUCER", "slow", &hooks, code);
    env.compile_library("libslow.so", &source).display().to_string()
}

#[test]
fn readyz_is_503_while_an_on_create_is_slow_then_200() {
    let env = Env::new();
    let port = free_port();
    let slow = slow_producer(&env);
    env.write_config(
        &Config::new()
            .table("admin", json!({ "listen": format!("127.0.0.1:{port}") }))
            .producer("slow", &slow)
            .digest(),
    );
    let host = env.spawn();
    eventually(SETTLE_LIMIT, "on_create to begin", || env.path("creating").exists());
    assert_eq!(get(port, "/livez", None), (200, "ok\n".to_string()), "live while on_create runs");
    let (code, body) = get(port, "/readyz", None);
    assert_eq!(code, 503);
    let body: Value = serde_json::from_str(&body).expect("JSON");
    insta::assert_snapshot!("readyz_while_creating", format!("{body:#}"));
    let (_, status) = get(port, "/v1/status", None);
    let status: Value = serde_json::from_str(&status).unwrap();
    assert_eq!((&status["state"], &status["instances"][1]["state"]), (&json!("creating"), &json!("creating")));

    env.write("go", "");
    eventually(SETTLE_LIMIT, "/readyz to answer 200", || get(port, "/readyz", None).0 == 200);
    assert_eq!(get(port, "/readyz", None).1, "{\"ready\":true}\n");
    host.signal(Signal::SIGTERM);
    host.wait().expect_code(0);
}

#[test]
fn readyz_names_a_stuck_consumer() {
    let env = Env::new();
    let port = free_port();
    let library = fixture::misbehaving_consumer(&env, "if (seen + n >= 10) { for (;;) sleep(1000); }\nreturn EVH_OK;");
    let library = library.display().to_string();
    env.write_config(
        &Config::new()
            .table("host", json!({ "drain_timeout": "1s" }))
            .table("admin", json!({ "listen": format!("127.0.0.1:{port}") }))
            .producer("seq", C)
            .plugin("sequence")
            .config(json!({ "count": 100 }))
            .producer("idle", &library)
            .plugin("idle")
            .consumer("stuck", &library)
            .plugin("fixture"),
    );
    let mut host = env.spawn();
    host.wait_for_line("evhost is running");
    eventually(SETTLE_LIMIT, "/readyz to call the consumer stuck", || get(port, "/readyz", None).0 == 503);
    let body: Value = serde_json::from_str(&get(port, "/readyz", None).1).unwrap();
    let reason = body["not_ready"][0]["reason"].as_str().expect("a reason");
    assert_eq!((&body["not_ready"][0]["instance"], &body["state"]), (&json!("stuck"), &json!("running")));
    assert!(reason.starts_with("stuck: in on_events for ") && reason.ends_with("(more than 2s)"), "{reason}");
    host.signal(Signal::SIGTERM);
    host.wait().expect_code(1);
}

#[test]
fn the_token_guards_metrics_and_status_but_not_the_probes() {
    let env = Env::new();
    let port = free_port();
    let slow = slow_producer(&env);
    env.write_config(
        &Config::new()
            .table("admin", json!({ "listen": format!("127.0.0.1:{port}"), "token": "s3cret" }))
            .producer("slow", &slow)
            .digest(),
    );
    let host = env.spawn();
    eventually(SETTLE_LIMIT, "on_create to begin", || env.path("creating").exists());
    for path in ["/metrics", "/v1/status"] {
        let (code, body) = get(port, path, None);
        assert_eq!(code, 401, "{path} without the token");
        insta::assert_snapshot!(format!("unauthorized{}", path.replace('/', "_")), body);
        assert_eq!(get(port, path, Some("wrong")).0, 401, "{path} with a wrong token");
        assert_eq!(get(port, path, Some("s3cret")).0, 200, "{path} with the token");
    }
    assert_eq!(get(port, "/livez", None).0, 200);
    // Readiness without the token: who is not ready, not why.
    let anonymous: Value = serde_json::from_str(&get(port, "/readyz", None).1).unwrap();
    assert_eq!(anonymous["not_ready"][0], json!({ "instance": "digest", "kind": "consumer", "state": "creating" }));
    let told: Value = serde_json::from_str(&get(port, "/readyz", Some("s3cret")).1).unwrap();
    assert!(told["not_ready"][0]["reason"].is_string());
    env.write("go", "");
    host.signal(Signal::SIGTERM);
    host.wait().expect_code(0);
}

#[test]
fn unknown_paths_and_methods_say_what_is_served() {
    let env = Env::new();
    let port = free_port();
    let idle = idle_library(&env);
    env.write_config(&Config::new().producer("idle", &idle).plugin("idle").digest());
    let mut host = env.start(&["run", "-c", "evhost.toml", "--admin", &format!("127.0.0.1:{port}")]);
    host.wait_for_line("evhost is running");
    let (code, body) = get(port, "/health", None);
    assert_eq!(code, 404);
    insta::assert_snapshot!("not_found", body);
    let post = ureq::post(&format!("http://127.0.0.1:{port}/metrics")).call();
    let Err(ureq::Error::Status(405, response)) = post else { panic!("POST /metrics: {post:?}") };
    assert_eq!(response.header("allow"), Some("GET"));
    insta::assert_snapshot!("method_not_allowed", response.into_string().unwrap());
    host.signal(Signal::SIGTERM);
    host.wait().expect_code(0);
}

#[test]
fn bad_admin_settings_stop_before_anything_runs() {
    let env = Env::new();
    env.write_config(
        &Config::sequence_into_digest(json!({ "count": 1 })).table("admin", json!({ "listen": "localhost:9464" })),
    );
    insta::assert_snapshot!("admin_listen_host_name", env.check_fails());

    // The port is taken: run stops with exit 2 before any plugin is created.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    env.write_config(&Config::sequence_into_digest(json!({ "count": 1 })));
    let out = env.fails(&["run", "-c", "evhost.toml", "--admin", &format!("127.0.0.1:{port}")]);
    insta::assert_snapshot!("admin_port_taken", env.redact(&out.stderr).replace(&port.to_string(), "[PORT]"));
    assert!(!env.path("digest.json").exists(), "nothing ran");

    let out = env.fails(&["run", "-c", "evhost.toml", "--admin", "9464"]);
    assert!(out.stderr.contains("invalid value '9464' for '--admin <ADDR>'"), "{}", out.stderr);
}
