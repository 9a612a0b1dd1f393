//! Many machines on one: real evhost processes sharing events through a real nats-server,
//! the topology of examples/cluster. Host A takes events in (`sequence`, 100 000 events,
//! and `http`) and publishes them with `nats-publish`; hosts B and C subscribe with
//! different durable names (each gets every event), D1 and D2 share one (they split the
//! stream). B runs on the disk log and is killed with SIGKILL in the middle, then started
//! again.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::{json, Value};

use crate::config::Config;
use crate::nats::{file, subscribe, NATS};
use crate::nats_client::Client;
use crate::services::Nats;
use crate::support::{eventually, free_port, Env, Running, C};

const SEQUENCE: u64 = 100_000;
const HTTP_EVENTS: u64 = 200;
const TOTAL: u64 = SEQUENCE + HTTP_EVENTS;
const SETTLE: Duration = Duration::from_secs(40);
/// The hosts run through the whole test, longer than `support::RUN_LIMIT` on a busy machine.
const HOST_LIMIT: Duration = Duration::from_secs(150);

/// A subscribing host reading EVENTS as `durable` into `<name>.jsonl`, with `log` and
/// maybe a digest.
fn subscriber(nats: &Nats, name: &str, durable: &str, log: Value, digest: bool) -> Env {
    let config = subscribe(Config::new().table("log", log), "in", nats, "EVENTS", durable, json!({ "ack_wait": "2s" }));
    let mut config = file(config, "out", &format!("{name}.jsonl"));
    if digest {
        config = config.digest();
    }
    Env::with(&config)
}

fn started(env: &Env) -> Running {
    let mut running = env.spawn();
    running.wait_for_line("evhost is running");
    running
}

fn stop(running: Running) {
    running.signal(Signal::SIGTERM);
    running.wait_within(HOST_LIMIT).expect_code(0);
}

/// POSTs a binary-mode event to A until it is accepted: while `sequence` fills A's log,
/// `http` answers 503 (with Retry-After), as it should.
fn post(agent: &ureq::Agent, port: u16, i: u64) {
    loop {
        let sent = agent
            .post(&format!("http://127.0.0.1:{port}/"))
            .set("ce-specversion", "1.0")
            .set("ce-id", &format!("h{i}"))
            .set("ce-source", "/http")
            .set("ce-type", "dev.test.request")
            .send_bytes(i.to_string().as_bytes());
        match sent {
            Ok(_) => return,
            Err(ureq::Error::Status(503, _)) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("POST event h{i} to A: {e}"),
        }
    }
}

fn ids(env: &Env, file: &str) -> Vec<(String, String)> {
    env.json_lines(file)
        .iter()
        .map(|e| (e["source"].as_str().unwrap().to_owned(), e["id"].as_str().unwrap().to_owned()))
        .collect()
}

/// Every event A took in, as (source, id), in the order of each source.
fn expected() -> BTreeSet<(String, String)> {
    let sequence = (0..SEQUENCE).map(|k| ("/evhost/examples/sequence".to_owned(), k.to_string()));
    sequence.chain((0..HTTP_EVENTS).map(|i| ("/http".to_owned(), format!("h{i}")))).collect()
}

/// True when, for each source, the ids come in the order A took them in.
fn in_order_per_source(events: &[(String, String)]) -> bool {
    let mut last: HashMap<&str, u64> = HashMap::new();
    events.iter().all(|(source, id)| {
        let n: u64 = id.trim_start_matches('h').parse().unwrap();
        let before = last.insert(source, n);
        before.is_none_or(|before| before < n)
    })
}

#[test]
fn hosts_share_events_through_jetstream() {
    let nats = Nats::start();
    let mut client = Client::connect(nats.port());
    client.create_stream("EVENTS", &["events.>"]);
    let memory = json!({ "kind": "memory" });
    let disk = json!({ "kind": "disk", "path": "evlog" });
    let b = subscriber(&nats, "b", "b", disk, false);
    let c = subscriber(&nats, "c", "c", memory.clone(), true);
    let d1 = subscriber(&nats, "d1", "d", memory.clone(), false);
    let d2 = subscriber(&nats, "d2", "d", memory, false);
    let mut host_b = started(&b);
    let host_c = started(&c);
    let host_d1 = started(&d1);
    let host_d2 = started(&d2);

    let port = free_port();
    let a = Config::sequence(C, json!({ "count": SEQUENCE, "payload_bytes": 16 }))
        .producer("api", "libevh_http.so")
        .config(json!({ "listen": format!("127.0.0.1:{port}") }))
        .consumer("publish", NATS)
        .plugin("nats-publish")
        .config(json!({ "url": nats.url(), "stream": "EVENTS" }))
        .digest();
    let a = Env::with(&a);
    let mut host_a = a.spawn();
    host_a.wait_for_line(&format!("listening on http://127.0.0.1:{port}"));
    let agent = ureq::agent();
    for i in 0..HTTP_EVENTS {
        post(&agent, port, i);
        if i == HTTP_EVENTS / 2 {
            eventually(SETTLE, "host B in the middle of the stream", || b.lines_so_far("b.jsonl") as u64 > TOTAL / 3);
            host_b.signal(Signal::SIGKILL);
            let _ = host_b.wait_within(HOST_LIMIT);
            host_b = started(&b);
        }
    }
    eventually(SETTLE, "every event in the stream", || client.stream_messages("EVENTS") >= TOTAL);
    stop(host_a);
    assert_eq!(client.stream_messages("EVENTS"), TOTAL, "each event once in the stream");

    let distinct = |env: &Env, file: &str| ids(env, file).into_iter().collect::<BTreeSet<_>>().len() as u64;
    eventually(SETTLE, "every event on B and C", || {
        c.lines_so_far("c.jsonl") as u64 >= TOTAL && distinct(&b, "b.jsonl") == TOTAL
    });
    eventually(SETTLE, "every event on D1 or D2", || {
        let both: BTreeSet<_> = ids(&d1, "d1.jsonl").into_iter().chain(ids(&d2, "d2.jsonl")).collect();
        both.len() as u64 == TOTAL
    });
    let redelivered = client.consumer_info("EVENTS", "d")["num_redelivered"].as_u64().unwrap();
    for host in [host_b, host_c, host_d1, host_d2] {
        stop(host);
    }

    // C: every event exactly once, in order per source, and the same digest as A.
    let on_c = ids(&c, "c.jsonl");
    assert_eq!(on_c.len() as u64, TOTAL, "C has each event once");
    assert_eq!(on_c.iter().cloned().collect::<BTreeSet<_>>(), expected());
    assert!(in_order_per_source(&on_c), "C has each source's events in order");
    assert_eq!(c.json("digest.json"), a.json("digest.json"), "C saw what A took in, in the same order");

    // B, killed in the middle: still every event; the kill may repeat some.
    let on_b = ids(&b, "b.jsonl");
    assert_eq!(on_b.iter().cloned().collect::<BTreeSet<_>>(), expected(), "B lost events to the kill");

    // D1 and D2 split the stream; an event on both was delivered again.
    let on_d1: BTreeSet<_> = ids(&d1, "d1.jsonl").into_iter().collect();
    let on_d2: BTreeSet<_> = ids(&d2, "d2.jsonl").into_iter().collect();
    let overlap = on_d1.intersection(&on_d2).count() as u64;
    println!(
        "B: {} events after the kill ({} again); D1: {}, D2: {}, on both: {overlap} (JetStream redelivered {redelivered})",
        on_b.len(),
        on_b.len() as u64 - TOTAL,
        on_d1.len(),
        on_d2.len()
    );
    assert!(!on_d1.is_empty() && !on_d2.is_empty(), "the shared durable splits the stream between D1 and D2");
    assert_eq!(on_d1.len() as u64 + on_d2.len() as u64 - overlap, TOTAL);
    assert!(overlap <= redelivered, "events on both D1 and D2 ({overlap}) are redeliveries ({redelivered})");
}
