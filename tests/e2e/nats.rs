//! The `nats` library through the real host against a real nats-server (started by
//! tests/services/nats.sh, on a free port): the binding modes both ways, acknowledgement
//! only after commit (kill -9 between fetch and commit loses nothing), publishing through a
//! server outage (retried, each event stored once), and config errors through
//! `evhost check`.

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::{json, Value};

use crate::config::Config;
use crate::fixture::misbehaving_consumer;
use crate::nats_client::Client;
use crate::services::Nats;
use crate::support::{eventually, free_port, Env, SETTLE_LIMIT};

pub(crate) const NATS: &str = "libevh_nats.so";
pub(crate) const FILE: &str = "libevh_file.so";
const HTTP: &str = "libevh_http.so";

/// A `nats-subscribe` entry named `name` reading `stream` as `durable`, plus `extra` keys.
pub(crate) fn subscribe(config: Config, name: &str, nats: &Nats, stream: &str, durable: &str, extra: Value) -> Config {
    let mut keys = json!({ "url": nats.url(), "stream": stream, "durable": durable });
    keys.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    config.producer(name, NATS).plugin("nats-subscribe").config(keys)
}

/// The `file` consumer as `name`, writing `path`.
pub(crate) fn file(config: Config, name: &str, path: &str) -> Config {
    config.consumer(name, FILE).config(json!({ "path": path }))
}

#[test]
fn messages_in_every_binding_mode_become_events() {
    let nats = Nats::start();
    let mut client = Client::connect(nats.port());
    client.create_stream("IN", &["in.>"]);
    let binary = [
        ("ce-specversion", "1.0"),
        ("ce-id", "b-1"),
        ("ce-source", "/orders"),
        ("ce-type", "com.example.created"),
        ("ce-subject", "caf%C3%A9"),
        ("ce-time", "2026-01-02T03:04:05Z"),
        ("ce-traceparent", "00-abc-01"),
        ("content-type", "text/plain"),
    ];
    client.js_publish("in.binary", &binary, b"hello");
    let structured =
        json!({ "specversion": "1.0", "id": "s-1", "source": "/s", "type": "t.structured", "data": { "a": 1 } });
    client.js_publish(
        "in.structured",
        &[("content-type", "application/cloudevents+json")],
        structured.to_string().as_bytes(),
    );
    let plain_seq = client.js_publish("in.plain", &[("Content-Type", "application/json")], b"{\"n\":3}");
    client.js_publish("in.plain", &[], b"no headers");

    let config = subscribe(Config::new(), "in", &nats, "IN", "fn", json!({}));
    let env = Env::with(&file(config, "out", "out.jsonl"));
    let running = env.spawn();
    eventually(SETTLE_LIMIT, "four events in out.jsonl", || env.lines_so_far("out.jsonl") >= 4);
    // Acknowledged once committed: nothing stays pending.
    eventually(SETTLE_LIMIT, "every message acknowledged", || client.consumer_info("IN", "fn")["num_ack_pending"] == 0);
    running.signal(Signal::SIGTERM);
    running.wait().expect_code(0);

    let events = env.json_lines("out.jsonl");
    assert_eq!(events.len(), 4);
    let e = &events[0];
    assert_eq!(
        (&e["id"], &e["source"], &e["type"], &e["subject"], &e["time"]),
        (
            &json!("b-1"),
            &json!("/orders"),
            &json!("com.example.created"),
            &json!("café"),
            &json!("2026-01-02T03:04:05Z")
        )
    );
    assert_eq!(
        (&e["traceparent"], &e["datacontenttype"], &e["data_base64"]),
        (&json!("00-abc-01"), &json!("text/plain"), &json!("aGVsbG8="))
    );
    assert_eq!((&events[1]["id"], &events[1]["data"]), (&json!("s-1"), &json!({ "a": 1 })));
    let plain = &events[2];
    assert_eq!(
        (&plain["id"], &plain["source"], &plain["type"], &plain["subject"], &plain["data"]),
        (
            &json!(format!("IN/{plain_seq}")),
            &json!("/nats/IN"),
            &json!("dev.evhost.nats.message"),
            &json!("in.plain"),
            &json!({ "n": 3 })
        )
    );
    assert!(plain["time"].as_str().unwrap().ends_with('Z'), "{plain}");
    assert_eq!(events[3]["data_base64"], json!("bm8gaGVhZGVycw=="), "{}", events[3]);
}

#[test]
fn what_nats_publish_sends_nats_subscribe_reads_back_unchanged() {
    let nats = Nats::start();
    let port = free_port();
    let publish = |subject: &str, stream: &str, mode: &str| json!({ "url": nats.url(), "subject": subject, "stream": stream, "create_stream": true, "mode": mode });
    let a = Config::new()
        .producer("api", HTTP)
        .config(json!({ "listen": format!("127.0.0.1:{port}") }))
        .consumer("binary", NATS)
        .plugin("nats-publish")
        .config(publish("bin.{type}", "BIN", "binary"))
        .consumer("structured", NATS)
        .plugin("nats-publish")
        .config(publish("json.{type}", "JSON", "structured"));
    let a = Env::with(&file(a, "sent", "sent.jsonl"));
    let mut host_a = a.spawn();
    host_a.wait_for_line(&format!("listening on http://127.0.0.1:{port}"));
    let url = format!("http://127.0.0.1:{port}/");
    let agent = ureq::agent();
    agent
        .post(&url)
        .set("ce-specversion", "1.0")
        .set("ce-id", "one")
        .set("ce-source", "/x y")
        .set("ce-type", "dev.test.binary")
        .set("ce-subject", "100%25 \"quoted\"")
        .set("ce-time", "2026-05-01T00:00:00.123456Z")
        .set("ce-dataschema", "https://example.com/s")
        .set("ce-zeta", "z")
        .set("ce-alpha", "a")
        .set("content-type", "application/octet-stream")
        .send_bytes(&[0, 1, 2, 255])
        .expect("202");
    agent.post(&url).set("content-type", "application/json").send_string("{\"plain\":true}").expect("202");
    let mut client = Client::connect(nats.port());
    eventually(SETTLE_LIMIT, "both events in both streams", || {
        client.stream_messages("BIN") == 2 && client.stream_messages("JSON") == 2
    });
    host_a.signal(Signal::SIGTERM);
    host_a.wait().expect_code(0);

    // On the wire: binary mode's headers, with the id as Nats-Msg-Id.
    let (subject, headers, payload) = client.stored("BIN", 1);
    assert_eq!((subject.as_str(), payload.as_slice()), ("bin.dev.test.binary", &[0u8, 1, 2, 255][..]));
    let header = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    assert_eq!(
        (header("Nats-Msg-Id"), header("ce-id"), header("ce-subject")),
        (Some("one"), Some("one"), Some("100%25%20%22quoted%22"))
    );
    let (_, headers, payload) = client.stored("JSON", 1);
    assert!(headers.iter().any(|(n, v)| n == "content-type" && v == "application/cloudevents+json"), "{headers:?}");
    assert_eq!(serde_json::from_slice::<Value>(&payload).unwrap()["id"], json!("one"));

    let b = subscribe(Config::new(), "bin", &nats, "BIN", "b", json!({}));
    let b = Env::with(&file(subscribe(b, "json", &nats, "JSON", "b", json!({})), "got", "got.jsonl"));
    let running = b.spawn();
    eventually(SETTLE_LIMIT, "four events on host B", || b.lines_so_far("got.jsonl") >= 4);
    running.signal(Signal::SIGTERM);
    running.wait().expect_code(0);
    let sent = a.json_lines("sent.jsonl");
    let got = b.json_lines("got.jsonl");
    assert_eq!(got.len(), 4);
    for event in &sent {
        let copies = got.iter().filter(|g| *g == event).count();
        assert_eq!(copies, 2, "{event} should arrive once per mode, unchanged; host B got:\n{got:#?}");
    }
}

#[test]
fn a_message_is_acknowledged_only_once_its_event_is_committed() {
    let nats = Nats::start();
    let mut client = Client::connect(nats.port());
    client.create_stream("IN", &["in.>"]);
    const COUNT: u64 = 100;
    for i in 0..COUNT {
        client.js_publish("in.x", &[], format!("{i:0>500}").as_bytes());
    }
    let env = Env::new();
    // A small disk log and a consumer that never returns: the first messages are committed
    // (and acknowledged), the next ones wait in emit, fetched but not committed.
    let fixture = misbehaving_consumer(&env, "forever(); return EVH_OK;");
    let host = json!({ "max_event_bytes": 4096 });
    let log = json!({ "kind": "disk", "path": "evlog", "max_bytes": "16KiB", "segment_bytes": "4KiB" });
    let first = Config::new().table("host", host.clone()).table("log", log.clone());
    let first = subscribe(first, "in", &nats, "IN", "fn", json!({ "ack_wait": "2s", "batch": 4 }));
    env.write_config(&first.consumer("sink", &fixture.display().to_string()).plugin("fixture"));
    let running = env.spawn();
    eventually(SETTLE_LIMIT, "some messages committed and acknowledged, more fetched and waiting", || {
        let info = client.consumer_info("IN", "fn");
        info["ack_floor"]["stream_seq"].as_u64().unwrap_or(0) > 0 && info["num_ack_pending"].as_u64().unwrap_or(0) > 0
    });
    let info = client.consumer_info("IN", "fn");
    running.signal(Signal::SIGKILL);
    let _ = running.wait();
    let acked = info["ack_floor"]["stream_seq"].as_u64().unwrap();
    assert!(acked < COUNT, "the host acknowledged every message although its consumer never returned: {info}");

    // Started again with a consumer that takes everything: the committed events come from
    // the disk log, the others from JetStream again. Small batches: on a disk log this
    // small, an emit of about half its bytes was seen waiting for room that did not free
    // while its only consumer was idle (a host matter); this test is about acknowledgements.
    let second = Config::new().table("host", host).table("log", log);
    let second = subscribe(second, "in", &nats, "IN", "fn", json!({ "ack_wait": "2s", "batch": 4 }));
    env.write_config(&file(second, "sink", "out.jsonl"));
    let running = env.spawn();
    let ids = || -> std::collections::BTreeSet<String> {
        env.json_lines("out.jsonl").iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect()
    };
    let all = || env.lines_so_far("out.jsonl") as u64 >= COUNT && ids().len() as u64 == COUNT;
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        eventually(SETTLE_LIMIT, "every message after the kill", all)
    }))
    .is_err()
    {
        running.signal(Signal::SIGTERM);
        let out = running.wait();
        panic!(
            "missing after the kill: {:?}\nconsumer: {}\nstderr:\n{}",
            (1..=COUNT).map(|seq| format!("IN/{seq}")).filter(|id| !ids().contains(id)).collect::<Vec<_>>(),
            client.consumer_info("IN", "fn"),
            out.stderr
        );
    }
    running.signal(Signal::SIGTERM);
    running.wait().expect_code(0);
    let lines = env.json_lines("out.jsonl").len();
    println!(
        "acknowledged before the kill: {acked} of {COUNT}; delivered after it: {lines} ({} again)",
        lines as u64 - COUNT
    );
    assert_eq!(ids(), (1..=COUNT).map(|seq| format!("IN/{seq}")).collect());
}

#[test]
fn publishing_and_subscribing_survive_the_server_going_away_and_store_each_event_once() {
    let nats = Nats::start();
    let port = free_port();
    let config = Config::new()
        .producer("api", HTTP)
        .config(json!({ "listen": format!("127.0.0.1:{port}") }))
        .consumer("out", NATS)
        .plugin("nats-publish")
        .config(json!({ "url": nats.url(), "stream": "EVENTS", "create_stream": true, "timeout": "500ms" }))
        .set("retry", json!({ "attempts": 1000, "backoff": "50ms..300ms" }));
    let env = Env::with(&config);
    let mut running = env.spawn();
    running.wait_for_line(&format!("listening on http://127.0.0.1:{port}"));
    // A subscribing host through the same outage: it reconnects by itself.
    let reader = subscribe(Config::new(), "in", &nats, "EVENTS", "reader", json!({ "ack_wait": "2s" }));
    let reader = Env::with(&file(reader, "out", "got.jsonl"));
    let mut reading = reader.spawn();
    reading.wait_for_line("evhost is running");
    let agent = ureq::agent();
    let post = |i: u32| {
        agent
            .post(&format!("http://127.0.0.1:{port}/"))
            .set("ce-specversion", "1.0")
            .set("ce-id", &format!("e{i}"))
            .set("ce-source", "/test")
            .set("ce-type", "dev.test")
            .send_bytes(b"x")
            .expect("202");
    };
    const COUNT: u32 = 300;
    for i in 0..COUNT / 3 {
        post(i);
    }
    nats.stop();
    for i in COUNT / 3..2 * COUNT / 3 {
        post(i);
    }
    std::thread::sleep(Duration::from_secs(3));
    nats.restart();
    for i in 2 * COUNT / 3..COUNT {
        post(i);
    }
    let mut client = Client::connect(nats.port());
    eventually(Duration::from_secs(20), "every event in the stream", || {
        client.stream_messages("EVENTS") >= u64::from(COUNT)
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(client.stream_messages("EVENTS"), u64::from(COUNT), "each event stored once (Nats-Msg-Id)");
    running.signal(Signal::SIGTERM);
    // Up to 20 s of outage and catching up, on top of the run limit.
    let out = running.wait_within(Duration::from_secs(60));
    out.expect_code(0);
    assert!(out.stderr.contains("will retry"), "the outage was retried:\n{}", out.stderr);

    let ids = || -> std::collections::BTreeSet<String> {
        reader.json_lines("got.jsonl").iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect()
    };
    eventually(SETTLE_LIMIT, "every event on the subscribing host", || ids().len() as u64 == u64::from(COUNT));
    reading.signal(Signal::SIGTERM);
    let out = reading.wait_within(Duration::from_secs(60));
    out.expect_code(0);
    assert_eq!(ids(), (0..COUNT).map(|i| format!("e{i}")).collect());
    let lines = reader.json_lines("got.jsonl").len();
    println!("the subscribing host got {lines} events for {COUNT} ({} again)", lines - COUNT as usize);
}

#[test]
fn core_nats_subjects_become_events_while_connected() {
    let nats = Nats::start();
    let config = Config::new().producer("in", NATS).plugin("nats-subscribe").config(json!({
        "url": nats.url(), "jetstream": false, "subjects": ["core.>"], "durable": "workers"
    }));
    let env = Env::with(&file(config, "out", "out.jsonl"));
    let mut running = env.spawn();
    running.wait_for_line("evhost is running");
    let mut client = Client::connect(nats.port());
    client.publish("core.plain", None, &[("content-type", "text/plain")], b"hi");
    let binary = [("ce-specversion", "1.0"), ("ce-id", "c-1"), ("ce-source", "/core"), ("ce-type", "t")];
    client.publish("core.binary", None, &binary, b"");
    client.publish("elsewhere", None, &[], b"not subscribed");
    eventually(SETTLE_LIMIT, "two events", || env.lines_so_far("out.jsonl") >= 2);
    running.signal(Signal::SIGTERM);
    running.wait().expect_code(0);
    let events = env.json_lines("out.jsonl");
    assert_eq!(events.len(), 2, "{events:#?}");
    let plain = &events[0];
    assert_eq!(
        (&plain["source"], &plain["type"], &plain["subject"], &plain["data_base64"]),
        (&json!("/nats"), &json!("dev.evhost.nats.message"), &json!("core.plain"), &json!("aGk="))
    );
    assert_eq!(plain["id"].as_str().unwrap().len(), 36, "a UUID: core NATS has no sequence");
    assert_eq!((&events[1]["id"], &events[1]["source"]), (&json!("c-1"), &json!("/core")));
}

fn check_fails(config: Config) -> String {
    let env = Env::with(&config);
    env.check_fails()
}

/// Ports and the seconds a timeout took vary from run to run.
fn redact_port(text: &str, port: u16) -> String {
    text.replace(&port.to_string(), "[PORT]")
}

#[test]
fn config_errors_are_clear_through_evhost_check() {
    let nats = Nats::start();
    let nobody = free_port();
    let unreachable = json!({ "url": format!("nats://127.0.0.1:{nobody}"), "stream": "EVENTS", "durable": "fn", "connect_timeout": "1s" });
    let text = check_fails(Config::new().producer("in", NATS).plugin("nats-subscribe").config(unreachable));
    insta::assert_snapshot!("nats_subscribe_unreachable", redact_port(&text, nobody));
    let text = check_fails(
        Config::new()
            .consumer("out", NATS)
            .plugin("nats-publish")
            .config(json!({ "url": format!("nats://127.0.0.1:{nobody}") })),
    );
    insta::assert_snapshot!("nats_publish_unreachable", redact_port(&text, nobody));

    let missing = subscribe(Config::new(), "in", &nats, "NOPE", "fn", json!({}));
    insta::assert_snapshot!("nats_subscribe_missing_stream", redact_port(&check_fails(missing), nats.port()));
    let publish = Config::new()
        .consumer("out", NATS)
        .plugin("nats-publish")
        .config(json!({ "url": nats.url(), "stream": "NOPE" }));
    insta::assert_snapshot!("nats_publish_missing_stream", redact_port(&check_fails(publish), nats.port()));

    // A server that accepts the connection but never speaks: the connect timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let hangs = json!({ "url": format!("nats://127.0.0.1:{silent_port}"), "connect_timeout": "500ms" });
    let text = check_fails(Config::new().consumer("out", NATS).plugin("nats-publish").config(hangs));
    insta::assert_snapshot!("nats_publish_silent_server", redact_port(&text, silent_port));

    let no_durable = json!({ "url": nats.url(), "stream": "EVENTS" });
    let text = check_fails(Config::new().producer("in", NATS).plugin("nats-subscribe").config(no_durable));
    insta::assert_snapshot!("nats_subscribe_no_durable", redact_port(&text, nats.port()));
    let bad_template = json!({ "url": nats.url(), "subject": "events.{kind}" });
    let text = check_fails(Config::new().consumer("out", NATS).plugin("nats-publish").config(bad_template));
    insta::assert_snapshot!("nats_publish_bad_subject", redact_port(&text, nats.port()));
}
