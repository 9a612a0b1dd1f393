//! The `http` producer through the real host: requests from a real client (ureq, or a raw
//! socket where timing matters) to `evhost run`, and what the `file` consumer wrote. Each
//! test gets a free port; the host is stopped with SIGTERM and must exit 0.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use base64::Engine;
use nix::sys::signal::Signal;
use serde_json::{json, Value};

use crate::support::{eventually, free_port, plugin, Env, Output, Running};

const HTTP: &str = "libevh_http.so";
const FILE: &str = "libevh_file.so";

/// `evhost.toml` with `top` first (a `[log]` table, ...), then the http producer on `port`
/// with the extra config keys `http` (inline-table syntax, may be empty), the `file` consumer
/// writing events.jsonl, and `bottom` (more consumers).
pub(crate) fn setup(port: u16, top: &str, http: &str, bottom: &str) -> Env {
    let env = Env::new();
    let http = if http.is_empty() { String::new() } else { format!(", {http}") };
    env.config(&format!(
        r#"
{top}

[[producer]]
name = "api"
library = "{}"
config = {{ listen = "127.0.0.1:{port}"{http} }}

[[consumer]]
name = "file"
library = "{}"
config = {{ path = "events.jsonl" }}

{bottom}
"#,
        plugin(HTTP).display(),
        plugin(FILE).display()
    ));
    env
}

/// A running host and a client for it.
pub(crate) struct Host {
    pub(crate) env: Env,
    pub(crate) running: Running,
    pub(crate) base: String,
    agent: ureq::Agent,
}

/// Starts the host of `setup(..)` and waits until the server is up.
pub(crate) fn start(top: &str, http: &str, bottom: &str) -> Host {
    let port = free_port();
    let env = setup(port, top, http, bottom);
    let mut running = env.spawn();
    running.wait_for_line(&format!("listening on http://127.0.0.1:{port}"));
    // A new connection per request: an early 413 or 401 may leave a connection unusable.
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(10)).max_idle_connections(0).build();
    Host { env, running, base: format!("http://127.0.0.1:{port}"), agent }
}

/// One answer: status, the headers we look at, and the JSON body.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    retry_after: Option<String>,
    allow: Option<String>,
    www_authenticate: Option<String>,
    pub(crate) body: Value,
}

impl Reply {
    pub(crate) fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_else(|| panic!("no error reason in {self:?}"))
    }

    /// The ids of a 202.
    pub(crate) fn ids(&self) -> Vec<String> {
        assert_eq!(self.status, 202, "{self:?}");
        self.body["ids"]
            .as_array()
            .expect("ids")
            .iter()
            .map(|id| id.as_str().expect("a string id").to_owned())
            .collect()
    }
}

fn read_reply(result: Result<ureq::Response, ureq::Error>) -> Reply {
    let response = match result {
        Ok(response) => response,
        // ureq 2 reports 4xx and 5xx as errors; they are answers here.
        Err(ureq::Error::Status(_, response)) => response,
        Err(e) => panic!("the request failed: {e}"),
    };
    let header = |name: &str| response.header(name).map(str::to_owned);
    let (retry_after, allow, www_authenticate) = (header("Retry-After"), header("Allow"), header("WWW-Authenticate"));
    let status = response.status();
    let text = response.into_string().expect("a readable body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("the {status} body is not JSON ({e}): {text:?}"));
    Reply { status, retry_after, allow, www_authenticate, body }
}

impl Host {
    fn request(&self, method: &str, path: &str) -> ureq::Request {
        self.agent.request(method, &format!("{}{path}", self.base))
    }

    fn send(&self, request: ureq::Request, body: &[u8]) -> Reply {
        read_reply(request.send_bytes(body))
    }

    pub(crate) fn post(&self, path: &str, content_type: &str, body: &[u8]) -> Reply {
        self.send(self.request("POST", path).set("Content-Type", content_type), body)
    }

    /// SIGTERM; the host must exit 0. Returns its output and the lines of events.jsonl.
    pub(crate) fn stop(self) -> (Output, Vec<Value>) {
        self.running.signal(Signal::SIGTERM);
        let out = self.running.wait();
        out.expect_code(0);
        let lines =
            if self.env.path("events.jsonl").exists() { self.env.json_lines("events.jsonl") } else { Vec::new() };
        (out, lines)
    }
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn ids(lines: &[Value]) -> Vec<&str> {
    lines.iter().map(|line| line["id"].as_str().expect("an id")).collect()
}

// The three CloudEvents modes.

#[test]
fn binary_mode_keeps_every_attribute() {
    let host = start("", "", "");
    let json_event = host
        .request("POST", "/ignored/in/binary/mode")
        .set("ce-specversion", "1.0")
        .set("ce-id", "order-1")
        .set("ce-source", "https://shop.example/orders")
        .set("ce-type", "com.example.order.created")
        .set("ce-subject", "order 1")
        .set("ce-time", "2024-05-01T12:00:00Z")
        .set("ce-dataschema", "https://shop.example/schemas/order")
        .set("ce-traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        .set("ce-Region", "eu1")
        .set("Content-Type", "application/json");
    assert_eq!(host.send(json_event, br#"{"total": 12.5}"#).ids(), ["order-1"]);
    // Header values are percent-encoded outside printable ASCII; the body is opaque bytes.
    let binary = host
        .request("PUT", "/")
        .set("ce-specversion", "1.0")
        .set("ce-id", "blob-1")
        .set("ce-source", "/blobs")
        .set("ce-type", "com.example.blob")
        .set("ce-subject", "caf%C3%A9%20%22menu%22")
        .set("Content-Type", "application/octet-stream");
    assert_eq!(host.send(binary, &[0, 1, 2, 255]).ids(), ["blob-1"]);

    let (_, lines) = host.stop();
    assert_eq!(
        lines,
        [
            json!({
                "specversion": "1.0", "id": "order-1", "source": "https://shop.example/orders",
                "type": "com.example.order.created", "subject": "order 1", "time": "2024-05-01T12:00:00Z",
                "dataschema": "https://shop.example/schemas/order", "datacontenttype": "application/json",
                "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "region": "eu1",
                "data": {"total": 12.5}
            }),
            json!({
                "specversion": "1.0", "id": "blob-1", "source": "/blobs", "type": "com.example.blob",
                "subject": "café \"menu\"", "datacontenttype": "application/octet-stream", "data_base64": base64(&[0, 1, 2, 255])
            }),
        ]
    );
}

#[test]
fn structured_mode_round_trips_an_event() {
    let host = start("", "", "");
    let with_json = json!({
        "specversion": "1.0", "id": "A234-1234-1234", "source": "https://github.com/cloudevents/spec/pull",
        "type": "com.github.pull_request.opened", "subject": "123", "time": "2018-04-05T17:31:00Z",
        "comexampleextension1": "value", "datacontenttype": "application/json", "data": {"a": [1, 2]}
    });
    let with_bytes = json!({
        "specversion": "1.0", "id": "b-1", "source": "/s", "type": "t", "datacontenttype": "image/png",
        "data_base64": base64(b"\x89PNG")
    });
    for event in [&with_json, &with_bytes] {
        let id = event["id"].as_str().unwrap();
        assert_eq!(
            host.post("/", "application/cloudevents+json; charset=UTF-8", event.to_string().as_bytes()).ids(),
            [id]
        );
    }
    let (_, lines) = host.stop();
    assert_eq!(lines, [with_json, with_bytes]);
}

#[test]
fn batched_mode_emits_the_whole_array_in_order() {
    let host = start("", "", "");
    let batch: Vec<Value> = (0..5)
        .map(|i| json!({"specversion": "1.0", "id": format!("b{i}"), "source": "/batch", "type": "t", "data": i}))
        .collect();
    let reply = host.post("/", "application/cloudevents-batch+json", Value::from(batch.clone()).to_string().as_bytes());
    assert_eq!(reply.body["accepted"], 5, "{reply:?}");
    assert_eq!(reply.ids(), ["b0", "b1", "b2", "b3", "b4"]);
    // An empty batch is valid and emits nothing.
    assert_eq!(host.post("/", "application/cloudevents-batch+json", b"[]").body["accepted"], 0);
    let (_, lines) = host.stop();
    let expected: Vec<Value> = batch
        .into_iter()
        .map(|mut event| {
            event["datacontenttype"] = "application/json".into();
            event
        })
        .collect();
    assert_eq!(lines, expected);
}

// Plain requests.

#[test]
fn plain_requests_become_events_of_the_configured_type() {
    let host = start("", r#"type = "com.example.api.call""#, "");
    let first = host.post("/orders/42?expand=items&dry=1", "application/json", br#"{"qty": 2}"#).ids();
    let second =
        host.send(host.request("PUT", "/upload").set("Content-Type", "text/plain; charset=utf-8"), b"hello").ids();
    let third = host.send(host.request("POST", "/no-type"), b"").ids();
    let (_, lines) = host.stop();
    assert_eq!(ids(&lines), [&first[0], &second[0], &third[0]]);
    let mut all_ids: Vec<&str> = ids(&lines);
    all_ids.sort();
    all_ids.dedup();
    assert_eq!(all_ids.len(), 3, "generated ids are unique: {lines:?}");
    for line in &lines {
        assert_eq!(line["specversion"], "1.0");
        assert_eq!(line["type"], "com.example.api.call");
        let time = line["time"].as_str().unwrap_or_else(|| panic!("a receive time: {line}"));
        assert!(time.len() == 27 && time.ends_with('Z'), "RFC 3339 UTC: {time}");
    }
    let only = |line: &Value, keys: &[&str]| {
        let mut got: Vec<&str> = line.as_object().unwrap().keys().map(String::as_str).collect();
        got.sort();
        let mut want = keys.to_vec();
        want.sort();
        assert_eq!(got, want, "{line}");
    };
    assert_eq!(lines[0]["source"], "/orders/42");
    assert_eq!(lines[0]["method"], "POST");
    assert_eq!(lines[0]["query"], "expand=items&dry=1");
    assert_eq!(lines[0]["datacontenttype"], "application/json");
    assert_eq!(lines[0]["data"], json!({"qty": 2}));
    assert_eq!(lines[1]["source"], "/upload");
    assert_eq!(lines[1]["method"], "PUT");
    assert_eq!(lines[1]["datacontenttype"], "text/plain; charset=utf-8");
    assert_eq!(lines[1]["data_base64"], base64(b"hello"));
    only(&lines[1], &["specversion", "id", "source", "type", "time", "method", "datacontenttype", "data_base64"]);
    // No body, no Content-Type, no query: none of those attributes.
    only(&lines[2], &["specversion", "id", "source", "type", "time", "method"]);
}

// Errors: nothing is emitted for any of them.

#[test]
fn invalid_events_and_malformed_json_get_400_and_nothing_is_emitted() {
    let host = start("", "", "");
    let structured = "application/cloudevents+json";
    let reply = host.post("/", structured, br#"{"specversion": "1.0", "id": "1", "type": "t"}"#);
    assert_eq!(reply.status, 400);
    assert!(reply.error().contains("invalid CloudEvent") && reply.error().contains("`source`"), "{reply:?}");
    let reply = host.post("/", structured, br#"{"specversion": "0.3", "id": "1", "source": "/s", "type": "t"}"#);
    assert!(reply.status == 400 && reply.error().contains("0.3"), "{reply:?}");
    let reply = host.post("/", structured, br#"{"specversion": "1.0", "id": "#);
    assert!(reply.status == 400 && reply.error().starts_with("malformed JSON: EOF while parsing"), "{reply:?}");
    // One bad event rejects its whole batch.
    let batch = json!([
        {"specversion": "1.0", "id": "good-1", "source": "/s", "type": "t"},
        {"specversion": "1.0", "id": "bad", "source": "/s", "type": "t", "Bad-Name": "x"},
    ]);
    let reply = host.post("/", "application/cloudevents-batch+json", batch.to_string().as_bytes());
    assert_eq!(reply.status, 400);
    assert!(reply.error().contains("index 1") && reply.error().contains("Bad-Name"), "{reply:?}");
    let reply = host.post("/", "application/cloudevents-batch+json", br#"{"not": "an array"}"#);
    assert!(reply.status == 400 && reply.error().contains("JSON array"), "{reply:?}");
    // Binary mode without a required attribute.
    let reply = host
        .send(host.request("POST", "/").set("ce-specversion", "1.0").set("ce-source", "/s").set("ce-type", "t"), b"x");
    assert!(reply.status == 400 && reply.error().contains("ce-id"), "{reply:?}");
    let reply = host.post("/", "application/cloudevents+xml", b"<event/>");
    assert_eq!(reply.status, 415, "{reply:?}");
    // A time that is not RFC 3339, in a batch and in binary mode.
    let batch = json!([
        {"specversion": "1.0", "id": "good-1", "source": "/s", "type": "t", "time": "2026-11-27T21:17:42Z"},
        {"specversion": "1.0", "id": "bad", "source": "/s", "type": "t", "time": "yesterday"},
    ]);
    let reply = host.post("/", "application/cloudevents-batch+json", batch.to_string().as_bytes());
    assert_eq!(
        (reply.status, reply.error()),
        (400, "invalid CloudEvent at index 1 of the batch: time \"yesterday\" is not an RFC 3339 timestamp; write it like 2026-11-27T21:17:42Z; nothing was accepted")
    );
    let binary = host.request("POST", "/").set("ce-specversion", "1.0").set("ce-id", "1").set("ce-source", "/s");
    let reply = host.send(binary.set("ce-type", "t").set("ce-time", "27/11/2026"), b"x");
    assert!(reply.status == 400 && reply.error().starts_with("invalid CloudEvent: time \"27/11/2026\""), "{reply:?}");
    // A good one, so the file shows that the host ran and took only it.
    let good =
        host.post("/", structured, br#"{"specversion": "1.0", "id": "good-2", "source": "/s", "type": "t"}"#).ids();
    let (_, lines) = host.stop();
    assert_eq!(ids(&lines), good);
}

#[test]
fn bodies_over_max_body_bytes_get_413() {
    let host = start("", r#"max_body_bytes = "16B""#, "");
    let reply = host.post("/", "text/plain", &[b'x'; 17]);
    assert_eq!(reply.status, 413, "{reply:?}");
    assert!(reply.error().contains("max_body_bytes (16 bytes)"), "{reply:?}");
    // Without a Content-Length (chunked), the limit holds while reading.
    let reply = read_reply(host.request("POST", "/").set("Content-Type", "text/plain").send(&[b'y'; 100][..]));
    assert_eq!(reply.status, 413, "{reply:?}");
    let exactly = host.post("/", "text/plain", &[b'z'; 16]).ids();
    let (_, lines) = host.stop();
    assert_eq!(ids(&lines), exactly);
    assert_eq!(lines[0]["data_base64"], base64(&[b'z'; 16]));
}

/// A batch with more events than the whole log holds can never be accepted: the 413 says
/// so and what to change, not that an event is over max_event_bytes.
#[test]
fn a_batch_larger_than_the_log_gets_413_with_the_reason() {
    let host = start("[log]\ncapacity = 4", "", "");
    let batch: Vec<Value> =
        (0..5).map(|i| json!({"specversion": "1.0", "id": format!("e{i}"), "source": "/s", "type": "t"})).collect();
    let reply = host.post("/", "application/cloudevents-batch+json", json!(batch).to_string().as_bytes());
    assert_eq!(reply.status, 413, "{reply:?}");
    insta::assert_snapshot!("batch_larger_than_the_log", reply.error());
    let one = host.post("/", "application/cloudevents-batch+json", json!(batch[..1]).to_string().as_bytes());
    assert_eq!(one.ids(), ["e0"]);
    let (out, lines) = host.stop();
    assert_eq!(ids(&lines), ["e0"]);
    assert!(out.stderr.contains("a batch of 5 events and"), "the host's log names the reason: {}", out.stderr);
}

#[test]
fn a_token_is_required_when_configured() {
    let host = start("", r#"token = "s3cret-token""#, "");
    let missing = host.post("/", "text/plain", b"1");
    assert_eq!(missing.status, 401, "{missing:?}");
    assert_eq!(missing.www_authenticate.as_deref(), Some("Bearer realm=\"evhost\""));
    for wrong in ["Bearer s3cret-toke", "Bearer s3cret-token2", "Basic czNjcmV0LXRva2Vu", "s3cret-token"] {
        let reply = host.send(host.request("POST", "/").set("Authorization", wrong), b"2");
        assert_eq!(reply.status, 401, "{wrong}: {reply:?}");
    }
    let right = host.send(host.request("POST", "/").set("Authorization", "Bearer s3cret-token"), b"3").ids();
    // The scheme is case-insensitive.
    let lower = host.send(host.request("POST", "/").set("Authorization", "bearer s3cret-token"), b"4").ids();
    let (_, lines) = host.stop();
    assert_eq!(ids(&lines), [&right[0], &lower[0]]);
}

#[test]
fn other_methods_get_405_with_allow() {
    let host = start("", r#"methods = ["POST", "patch"]"#, "");
    for method in ["GET", "PUT", "DELETE"] {
        let reply = host.send(host.request(method, "/things"), b"");
        assert_eq!(reply.status, 405, "{method}: {reply:?}");
        assert_eq!(reply.allow.as_deref(), Some("POST, PATCH"), "{method}");
    }
    let patched = host.send(host.request("PATCH", "/things/1"), b"{}").ids();
    let (_, lines) = host.stop();
    assert_eq!(ids(&lines), patched);
    assert_eq!(lines[0]["method"], "PATCH");
}

// Backpressure and stopping.

/// A log of 4 events and a consumer that retries its first batch for a few seconds: the log
/// fills, the server answers 503 with Retry-After, and the client retries the same event id
/// until it gets 202. Every id then reaches the file exactly once, in order: nothing was
/// accepted on a 503, and nothing accepted was lost.
#[test]
fn a_full_log_gets_503_and_every_accepted_event_arrives_once() {
    let host = start(
        "[log]\ncapacity = 4",
        "",
        r#"
[[consumer]]
name = "stuck"
library = "{RUST_FIXTURES}"
plugin = "faulty"
config = { mode = "retry_then_ok", times = 3 }
retry = { attempts = 1000, backoff = "1s..1s" }
"#,
    );
    let mut accepted = Vec::new();
    let mut busy = 0;
    let started = Instant::now();
    for k in 0..20 {
        let id = format!("bp-{k}");
        loop {
            assert!(started.elapsed() < Duration::from_secs(15), "the log never drained");
            let event = host
                .request("POST", "/")
                .set("ce-specversion", "1.0")
                .set("ce-id", &id)
                .set("ce-source", "/backpressure")
                .set("ce-type", "t")
                .set("Content-Type", "text/plain");
            let reply = host.send(event, id.as_bytes());
            match reply.status {
                202 => {
                    assert_eq!(reply.ids(), [id.as_str()]);
                    accepted.push(id);
                    break;
                }
                503 => {
                    busy += 1;
                    assert_eq!(reply.retry_after.as_deref(), Some("1"), "{reply:?}");
                    assert!(reply.error().contains("log is full"), "{reply:?}");
                    std::thread::sleep(Duration::from_millis(250));
                }
                _ => panic!("unexpected answer {reply:?}"),
            }
        }
    }
    assert!(busy > 0, "the log never filled");
    let (out, lines) = host.stop();
    assert_eq!(ids(&lines), accepted, "every accepted event exactly once, in order");
    assert!(
        out.stderr.contains(&format!("20 events accepted, {busy} refused while the log was full (503)")),
        "{}",
        out.stderr
    );
}

/// SIGTERM while a request is in flight: it is answered 202 and its event delivered; new
/// connections are refused from the stop on.
#[test]
fn a_stop_finishes_requests_in_flight_and_refuses_new_ones() {
    let host = start("", "", "");
    let address = host.base.trim_start_matches("http://").to_owned();
    let mut slow = TcpStream::connect(&address).expect("connect");
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        slow,
        "POST /slow HTTP/1.1\r\nHost: {address}\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nhello"
    )
    .unwrap();
    slow.flush().unwrap();
    // Let the server accept the connection and read the head before the stop.
    std::thread::sleep(Duration::from_millis(500));
    host.running.signal(Signal::SIGTERM);
    eventually(Duration::from_secs(5), "new connections refused after the stop", || {
        TcpStream::connect(&address).is_err()
    });
    slow.write_all(b"world").unwrap();
    let mut answer = String::new();
    slow.read_to_string(&mut answer).expect("the answer");
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let out = host.running.wait();
    out.expect_code(0);
    let lines = host.env.json_lines("events.jsonl");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["source"], "/slow");
    assert_eq!(lines[0]["data_base64"], base64(b"helloworld"));
}

// Config errors, through `evhost check`.

/// `evhost check` fails with exit 2; its stderr with the port and paths redacted.
fn check_fails(port: u16, http: &str) -> String {
    setup(port, "", http, "").check_fails().replace(&format!("127.0.0.1:{port}"), "127.0.0.1:[PORT]")
}

#[test]
fn a_port_in_use_fails_the_check() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind a port");
    let port = taken.local_addr().unwrap().port();
    let stderr = check_fails(port, "");
    assert!(stderr.contains("failed to start: cannot listen on 127.0.0.1:[PORT]: address in use"), "{stderr}");
    insta::assert_snapshot!("port_in_use", stderr);
}

#[test]
fn a_bad_max_body_bytes_fails_the_check() {
    let stderr = check_fails(free_port(), r#"max_body_bytes = "1 lot""#);
    insta::assert_snapshot!("bad_max_body_bytes", stderr);
    let stderr = check_fails(free_port(), "max_body_bytes = 0");
    assert!(stderr.contains("`max_body_bytes` must be at least 1"), "{stderr}");
}

#[test]
fn an_unknown_key_fails_the_check() {
    let stderr = check_fails(free_port(), "max_body = 10");
    insta::assert_snapshot!("unknown_key", stderr);
}

#[test]
fn a_listen_that_is_not_an_address_fails_the_check() {
    let env = Env::new();
    env.config(&format!(
        "[[producer]]\nname = \"api\"\nlibrary = \"{}\"\nconfig = {{ listen = \"8080\" }}\n",
        plugin(HTTP).display()
    ));
    let stderr = env.check_fails();
    assert!(stderr.contains("`listen` = \"8080\" is not an address; write host:port"), "{stderr}");
}
