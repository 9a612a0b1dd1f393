//! The `file` and `webhook` consumers, fed by the C `sequence` example through the real host:
//! what lands in the JSON Lines files, and what a real HTTP server (tiny_http, scripted
//! statuses) receives, including retries and dead letters.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use base64::Engine;
use serde_json::{json, Value};

use crate::config::Config;
use crate::support::{drained, free_port, json_lines, plugin, Env, C};

const FILE: &str = "libevh_file.so";
pub(crate) const WEBHOOK: &str = "libevh_webhook.so";

/// The C sequence (`count` events of 8 bytes) and the consumer "out" of `library`, with the
/// keys `keys` adds.
pub(crate) fn sequence_into(count: u64, library: &str, keys: impl FnOnce(Config) -> Config) -> Env {
    Env::with(&keys(sequence(count).consumer("out", library)))
}

/// The C sequence as "seq", `count` events of 8 bytes.
fn sequence(count: u64) -> Config {
    Config::sequence(C, json!({ "count": count, "payload_bytes": 8 }))
}

/// The data of sequence event `id`: 8 bytes, byte i = (id + i) mod 256.
pub(crate) fn payload(id: u64) -> Vec<u8> {
    (0..8).map(|i| ((id + i) % 256) as u8).collect()
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Checks one line or body as the CloudEvents JSON form of a sequence event; returns its id.
pub(crate) fn sequence_event(event: &Value) -> u64 {
    assert_eq!(event["specversion"], "1.0", "{event}");
    assert_eq!(event["source"], "/evhost/examples/sequence", "{event}");
    assert_eq!(event["type"], "dev.evhost.example.sequence", "{event}");
    assert_eq!(event["datacontenttype"], "application/octet-stream", "{event}");
    let id: u64 = event["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("a numeric id: {event}"));
    assert_eq!(event["data_base64"], json!(base64(&payload(id))), "{event}");
    assert!(event.get("data").is_none(), "binary data is never inline: {event}");
    id
}

fn ids(events: &[Value]) -> Vec<u64> {
    events.iter().map(sequence_event).collect()
}

// file

#[test]
fn file_writes_one_cloudevent_per_line_in_order() {
    let env = sequence_into(500, FILE, |c| c.config(json!({ "path": "events.jsonl", "fsync": "batch" })));
    env.run().expect_code(0);
    assert_eq!(ids(&env.json_lines("events.jsonl")), (0..500).collect::<Vec<_>>());
}

#[test]
fn file_appends_to_what_is_there() {
    let env = sequence_into(3, FILE, |c| c.config(json!({ "path": "events.jsonl" })));
    env.run().expect_code(0);
    env.run().expect_code(0);
    assert_eq!(ids(&env.json_lines("events.jsonl")), [0, 1, 2, 0, 1, 2]);
}

#[test]
fn file_dash_writes_to_stdout() {
    let env = sequence_into(20, FILE, |c| c.config(json!({ "path": "-" })));
    let out = env.run();
    out.expect_code(0);
    assert_eq!(ids(&json_lines(&out.stdout)), (0..20).collect::<Vec<_>>());
}

/// The rotated files, oldest first, then the current one: `events.jsonl.N` … `.1`, `events.jsonl`.
fn rotated_files(env: &Env) -> Vec<String> {
    let mut numbered: Vec<u32> = std::fs::read_dir(env.dir())
        .unwrap()
        .filter_map(|entry| entry.unwrap().file_name().to_str()?.strip_prefix("events.jsonl.")?.parse().ok())
        .collect();
    numbered.sort_unstable_by(|a, b| b.cmp(a));
    numbered.into_iter().map(|n| format!("events.jsonl.{n}")).chain(["events.jsonl".to_owned()]).collect()
}

#[test]
fn file_rotation_keeps_every_line_and_no_file_grows_past_the_limit() {
    let env =
        sequence_into(1000, FILE, |c| c.config(json!({ "path": "events.jsonl", "rotate_bytes": 4096, "keep": 1000 })));
    env.run().expect_code(0);
    let files = rotated_files(&env);
    assert!(files.len() > 10, "rotation happened: {files:?}");
    let mut all = Vec::new();
    for file in &files {
        let size = std::fs::metadata(env.path(file)).unwrap().len();
        assert!(size <= 4096, "{file} is {size} bytes");
        all.extend(ids(&env.json_lines(file)));
    }
    assert_eq!(all, (0..1000).collect::<Vec<_>>(), "every line once, in order across {files:?}");
}

#[test]
fn file_rotation_keeps_only_the_newest_files() {
    let env =
        sequence_into(1000, FILE, |c| c.config(json!({ "path": "events.jsonl", "rotate_bytes": "4KiB", "keep": 2 })));
    env.run().expect_code(0);
    let files = rotated_files(&env);
    assert_eq!(files, ["events.jsonl.2", "events.jsonl.1", "events.jsonl"]);
    let tail: Vec<u64> = files.iter().flat_map(|f| ids(&env.json_lines(f))).collect();
    assert_eq!(tail.last(), Some(&999));
    assert!(tail.windows(2).all(|w| w[1] == w[0] + 1), "the newest lines, contiguous: {tail:?}");
}

#[test]
fn file_write_errors_are_retried_then_dead_lettered() {
    let env = sequence_into(5, FILE, |c| {
        c.set("dead_letter", "dlq.jsonl")
            .set("retry", json!({ "attempts": 2, "backoff": "1ms..2ms" }))
            .config(json!({ "path": "/dev/full" }))
    });
    let out = env.run();
    out.expect_code(0);
    let letters = env.json_lines("dlq.jsonl");
    assert_eq!(ids(&letters), [0, 1, 2, 3, 4]);
    for line in &letters {
        let error = line["evhosterror"].as_str().expect("an evhosterror string");
        assert!(error.contains("cannot write /dev/full") && error.contains("gave up after 2 retries"), "{error}");
    }
    assert_eq!(drained(&out.stderr, "out", "retries"), 2, "{}", out.stderr);
}

// Config mistakes, through `evhost check`.

/// `evhost check` of the sequence into "out" of `library` whose table ends with the TOML
/// line `config`, written as given: the snapshot shows it, in its own key order.
pub(crate) fn check_fails(library: &str, config: &str) -> String {
    let env = Env::new();
    let entry = format!("\n[[consumer]]\nname = \"out\"\nlibrary = \"{}\"\n{config}\n", plugin(library).display());
    env.write("evhost.toml", &(sequence(1).to_toml() + &entry));
    env.check_fails()
}

#[test]
fn file_config_mistakes() {
    insta::assert_snapshot!("file_without_path", check_fails(FILE, "config = { rotate_bytes = 100 }"));
    insta::assert_snapshot!("file_bad_fsync", check_fails(FILE, "config = { path = \"e.jsonl\", fsync = \"always\" }"));
    insta::assert_snapshot!("file_missing_folder", check_fails(FILE, "config = { path = \"logs/e.jsonl\" }"));
}

#[test]
fn webhook_config_mistakes() {
    insta::assert_snapshot!("webhook_without_url", check_fails(WEBHOOK, "config = { mode = \"binary\" }"));
    insta::assert_snapshot!(
        "webhook_bad_mode",
        check_fails(WEBHOOK, "config = { url = \"http://127.0.0.1:9/\", mode = \"bulk\" }")
    );
    insta::assert_snapshot!(
        "webhook_bad_timeout",
        check_fails(WEBHOOK, "config = { url = \"http://127.0.0.1:9/\", timeout = \"soon\" }")
    );
}

// webhook

/// One request the test server received.
#[derive(Debug)]
struct Received {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
    /// The status the server answered with.
    status: u16,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
}

/// A real HTTP server on 127.0.0.1:0 that answers with the scripted statuses in turn (200
/// once they run out) and records every request.
struct Server {
    server: Arc<tiny_http::Server>,
    received: Arc<Mutex<Vec<Received>>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(script: &[u16]) -> Server {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind a test HTTP server"));
        let received = Arc::new(Mutex::new(Vec::new()));
        // Owned: the server thread outlives the borrow.
        let script: Vec<u16> = script.to_vec();
        let (srv, log, mut script) = (server.clone(), received.clone(), script.into_iter());
        let thread = std::thread::spawn(move || {
            for mut request in srv.incoming_requests() {
                let mut body = Vec::new();
                request.as_reader().read_to_end(&mut body).expect("read a request body");
                let status = script.next().unwrap_or(200);
                log.lock().unwrap().push(Received {
                    method: request.method().to_string(),
                    path: request.url().to_owned(),
                    headers: request
                        .headers()
                        .iter()
                        .map(|h| (h.field.as_str().as_str().to_ascii_lowercase(), h.value.as_str().to_owned()))
                        .collect(),
                    body,
                    status,
                });
                let answer = if status == 200 { "" } else { "scripted failure" };
                let _ = request.respond(tiny_http::Response::from_string(answer).with_status_code(status));
            }
        });
        Server { server, received, thread: Some(thread) }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.server.server_addr().to_ip().expect("an IP address"))
    }

    fn received(&self) -> std::sync::MutexGuard<'_, Vec<Received>> {
        self.received.lock().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The sequence into a webhook posting to `url`, with `config` (more keys of its table) and
/// the retry policy `retry`.
pub(crate) fn webhook(count: u64, url: &str, config: Value, retry: Value) -> Env {
    let Value::Object(mut config) = config else { panic!("the webhook's config is an object") };
    config.insert("url".into(), url.into());
    sequence_into(count, WEBHOOK, |c| c.set("dead_letter", "dlq.jsonl").set("retry", retry).config(config.into()))
}

pub(crate) fn fast_retry() -> Value {
    json!({ "attempts": 5, "backoff": "1ms..10ms" })
}

/// Ids of the binary-mode requests the server accepted, in arrival order.
fn accepted_ids(received: &[Received]) -> Vec<u64> {
    received.iter().filter(|r| r.status == 200).map(|r| r.header("ce-id").parse().unwrap()).collect()
}

#[test]
fn webhook_binary_mode_sends_ce_headers_and_the_data() {
    let server = Server::start(&[]);
    let env = webhook(3, &server.url(), json!({ "headers": { "authorization": "Bearer s3cret" } }), fast_retry());
    env.run().expect_code(0);
    let received = server.received();
    assert_eq!(received.len(), 3, "{received:?}");
    for (k, request) in received.iter().enumerate() {
        assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/hook"));
        assert_eq!(request.header("ce-id"), k.to_string());
        assert_eq!(request.header("ce-source"), "/evhost/examples/sequence");
        assert_eq!(request.header("ce-type"), "dev.evhost.example.sequence");
        assert_eq!(request.header("ce-specversion"), "1.0");
        assert_eq!(request.header("content-type"), "application/octet-stream");
        assert_eq!(request.header("authorization"), "Bearer s3cret");
        assert_eq!(request.body, payload(k as u64));
    }
}

#[test]
fn webhook_structured_mode_sends_one_json_event_per_request() {
    let server = Server::start(&[]);
    let env = webhook(5, &server.url(), json!({ "mode": "structured" }), fast_retry());
    env.run().expect_code(0);
    let received = server.received();
    assert!(
        received.iter().all(|r| r.header("content-type").starts_with("application/cloudevents+json")),
        "{received:?}"
    );
    assert!(received.iter().all(|r| !r.headers.contains_key("ce-id")), "no ce-* headers in structured mode");
    assert_eq!(ids(&received.iter().map(Received::json).collect::<Vec<_>>()), [0, 1, 2, 3, 4]);
}

#[test]
fn webhook_batched_mode_sends_json_arrays() {
    let server = Server::start(&[]);
    let env = webhook(300, &server.url(), json!({ "mode": "batched" }), fast_retry());
    env.run().expect_code(0);
    let received = server.received();
    assert!(received.len() < 300, "one request per batch, not per event: {}", received.len());
    let mut all = Vec::new();
    for request in received.iter() {
        assert!(request.header("content-type").starts_with("application/cloudevents-batch+json"), "{request:?}");
        all.extend(ids(request.json().as_array().expect("a JSON array")));
    }
    assert_eq!(all, (0..300).collect::<Vec<_>>());
}

#[test]
fn webhook_retries_a_500_and_delivers_each_event_once() {
    let server = Server::start(&[500]);
    let env = webhook(50, &server.url(), json!({}), fast_retry());
    let out = env.run();
    out.expect_code(0);
    assert_eq!(accepted_ids(&server.received()), (0..50).collect::<Vec<_>>());
    assert_eq!(server.received().len(), 51, "one failed request, then each event once");
    assert_eq!(drained(&out.stderr, "out", "retries"), 1, "{}", out.stderr);
    assert_eq!(drained(&out.stderr, "out", "delivered"), 50, "{}", out.stderr);
    assert!(!env.path("dlq.jsonl").exists(), "nothing dead-lettered:\n{}", out.stderr);
}

#[test]
fn webhook_retries_408_and_429_too() {
    let server = Server::start(&[408, 429, 503]);
    let env = webhook(10, &server.url(), json!({}), fast_retry());
    let out = env.run();
    out.expect_code(0);
    assert_eq!(accepted_ids(&server.received()), (0..10).collect::<Vec<_>>());
    assert_eq!(drained(&out.stderr, "out", "retries"), 3, "{}", out.stderr);
}

/// Dead letters as sequence events, with their ids and errors.
pub(crate) fn dead_letters(env: &Env) -> Vec<(u64, String)> {
    env.json_lines("dlq.jsonl")
        .into_iter()
        .map(|line| {
            assert_eq!(line["evhostconsumer"], "out", "{line}");
            (sequence_event(&line), line["evhosterror"].as_str().expect("an evhosterror string").to_owned())
        })
        .collect()
}

#[test]
fn webhook_400_sends_the_batch_to_the_dead_letter_file() {
    let server = Server::start(&[400; 1000]);
    let env = webhook(40, &server.url(), json!({}), fast_retry());
    let out = env.run();
    out.expect_code(0);
    let letters = dead_letters(&env);
    assert_eq!(letters.iter().map(|(id, _)| *id).collect::<Vec<_>>(), (0..40).collect::<Vec<_>>());
    for (_, error) in &letters {
        assert!(error.contains("HTTP 400") && error.contains("scripted failure"), "{error}");
    }
    // A 4xx is final: no retries, and one request per batch (its first event). The 40
    // events were emitted, so appended and read, as one batch.
    assert_eq!(drained(&out.stderr, "out", "retries"), 0, "{}", out.stderr);
    let ids: Vec<String> = server.received().iter().map(|r| r.header("ce-id").to_owned()).collect();
    assert_eq!(ids, ["0"], "one request, for the batch's first event");
}

#[test]
fn webhook_connection_refused_retries_then_dead_letters() {
    // A port that was just free: nothing listens there.
    let port = free_port();
    let env = webhook(
        5,
        &format!("http://127.0.0.1:{port}/hook"),
        json!({ "timeout": "2s" }),
        json!({ "attempts": 2, "backoff": "1ms..2ms" }),
    );
    let out = env.run();
    out.expect_code(0);
    let letters = dead_letters(&env);
    assert_eq!(letters.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    for (_, error) in &letters {
        assert!(error.contains("gave up after 2 retries") && error.contains(&format!("127.0.0.1:{port}")), "{error}");
    }
}
