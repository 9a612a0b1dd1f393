//! The kill -9 test of the durable log (issue 11's "done when"): `http` → disk log → `file`
//! (fsync per batch) and a slow consumer. Client threads send events, one at a time and in
//! batches, and keep every id that got a 202; the host is killed with SIGKILL at random
//! moments and started again on the same folder while they keep sending (an event whose
//! request failed is sent again, same id). In the end every acknowledged id reached both
//! consumers at least once, and every line of the file is a whole CloudEvent. Three rounds
//! in a row, each on a fresh folder.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::{json, Value};

use crate::config::Config;
use crate::disk::{counts, disk_log, event, file_events, post, recorded, recorder, FILE, HTTP};
use crate::fixture::MEMORY_CAP_KIB;
use crate::support::{free_port, Env, Running};

const ROUNDS: usize = 3;
const KILLS: usize = 5;
/// Client threads sending one event per request, beside the one that sends batches.
const SINGLE_SENDERS: usize = 3;
const BATCH: usize = 4;

#[test]
fn kill_9_loses_no_acknowledged_event_three_times_in_a_row() {
    for round in 1..=ROUNDS {
        kill_9_round(&format!("round {round} of {ROUNDS}"), disk_log(json!({})));
    }
}

/// The README's table: under `fsync = "interval"` and `"never"` an event is committed once
/// written to the file, and a process crash loses nothing committed either. One round each.
#[test]
fn kill_9_loses_no_acknowledged_event_with_fsync_interval_or_never() {
    kill_9_round("fsync = \"interval\"", disk_log(json!({ "fsync": "interval", "fsync_interval": "200ms" })));
    kill_9_round("fsync = \"never\"", disk_log(json!({ "fsync": "never" })));
}

/// One round: a fresh folder, the clients, `KILLS` kills and restarts, a SIGTERM, the count.
fn kill_9_round(round: &str, log: Value) {
    let started = Instant::now();
    let env = Env::new();
    recorder(&env);
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    env.write_config(
        &Config::new()
            .table("log", log)
            .producer("api", HTTP)
            .config(json!({ "listen": addr.to_string() }))
            .consumer("file", FILE)
            .config(json!({ "path": "events.jsonl", "fsync": "batch" }))
            .consumer("slow", "librecorder.so")
            .config(json!({ "sleep_ms": 5 })),
    );
    let mut host = start(&env, port);

    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, Instant)>::new()));
    let mut senders = Vec::new();
    for thread in 0..=SINGLE_SENDERS {
        let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
        senders.push(std::thread::spawn(move || send_until(&stop, thread, addr, &acknowledged)));
    }

    let mut kills = 0;
    let mut killed_at = Vec::new();
    while kills < KILLS {
        std::thread::sleep(Duration::from_millis(fastrand::u64(0..700)));
        host.signal(Signal::SIGKILL);
        killed_at.push(Instant::now());
        let out = host.wait();
        assert_eq!(out.status.code(), None, "{round}: the host exited by itself before kill {kills}:\n{}", out.stderr);
        kills += 1;
        host = start(&env, port);
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let retries: usize = senders.into_iter().map(|s| s.join().expect("a sender thread")).sum();
    host.signal(Signal::SIGTERM);
    let out = host.wait();
    out.expect_code(0);

    let acknowledged = acknowledged.lock().unwrap().clone();
    let when: HashMap<&str, Instant> = acknowledged.iter().map(|(id, at)| (id.as_str(), *at)).collect();
    let acknowledged: Vec<String> = acknowledged.iter().map(|(id, _)| id.clone()).collect();
    assert!(acknowledged.len() > 100, "{round}: only {} events acknowledged", acknowledged.len());
    let unique: HashSet<&str> = acknowledged.iter().map(String::as_str).collect();
    assert_eq!(unique.len(), acknowledged.len(), "{round}: an id was acknowledged twice");

    let events = file_events(&env);
    let in_file = counts(events.iter().map(|e| e["id"].as_str().expect("an id")));
    let slow = recorded(&env, "slow");
    let in_slow = counts(slow.iter().map(|(id, _)| id.as_str()));
    let lost_file: Vec<&str> = unique.iter().copied().filter(|id| !in_file.contains_key(id)).collect();
    let lost_slow: Vec<&str> = unique.iter().copied().filter(|id| !in_slow.contains_key(id)).collect();
    println!(
        "{round}: {} acknowledged ({retries} requests sent again after a failure), {kills} kills, {:?}; \
         file: {} lines, {} duplicates, {} lost; slow: {} lines, {} duplicates, {} lost",
        acknowledged.len(),
        started.elapsed(),
        events.len(),
        events.len() - in_file.len(),
        lost_file.len(),
        slow.len(),
        slow.len() - in_slow.len(),
        lost_slow.len(),
    );
    let sample = |lost: &[&str]| lost.iter().take(10).copied().collect::<Vec<_>>().join(", ");
    // How long before the next kill the lost events were acknowledged: a short window points
    // at events acknowledged before they were committed.
    let before_kill = |lost: &[&str]| {
        let latest =
            lost.iter().filter_map(|id| killed_at.iter().find(|&&kill| kill >= when[id]).map(|&kill| kill - when[id]));
        latest.max().map_or("after the last kill".to_string(), |d| format!("{d:?} before a kill"))
    };
    assert!(
        lost_file.is_empty() && lost_slow.is_empty(),
        "{round}: acknowledged events lost: {} of {} never reached `file` (e.g. {}; all acknowledged at most {}), \
         {} never reached `slow` (e.g. {}; at most {})",
        lost_file.len(),
        acknowledged.len(),
        sample(&lost_file),
        before_kill(&lost_file),
        lost_slow.len(),
        sample(&lost_slow),
        before_kill(&lost_slow)
    );
}

/// Starts the host under the memory cap and waits until it listens on `port`.
fn start(env: &Env, port: u16) -> Running {
    let mut host = env.spawn_capped(MEMORY_CAP_KIB);
    host.wait_for_line(&format!("listening on http://127.0.0.1:{port}"));
    host
}

/// Sender `thread` sends new events until `stop`: thread 0 a batch of `BATCH` per request,
/// the others one. An event is kept in `acknowledged`, with when, once a 202 answers for it; a failed
/// request (the host dead or restarting, or a 503) is sent again with the same ids.
/// Returns how many requests were sent again.
fn send_until(
    stop: &AtomicBool,
    thread: usize,
    addr: SocketAddr,
    acknowledged: &Mutex<Vec<(String, Instant)>>,
) -> usize {
    let mut retries = 0;
    for k in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let ids: Vec<String> = if thread == 0 {
            (0..BATCH).map(|i| format!("t0-{k}-{i}")).collect()
        } else {
            vec![format!("t{thread}-{k}")]
        };
        let (content_type, body) = if thread == 0 {
            let batch: Vec<Value> = ids.iter().map(|id| serde_json::from_str(&event(id)).unwrap()).collect();
            ("application/cloudevents-batch+json", Value::from(batch).to_string())
        } else {
            ("application/cloudevents+json", event(&ids[0]))
        };
        loop {
            match post(addr, content_type, &body, Duration::from_secs(10)) {
                Ok(202) => break,
                Ok(503) | Err(_) => {
                    retries += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Ok(other) => panic!("{other} for {body}"),
            }
        }
        let now = Instant::now();
        acknowledged.lock().unwrap().extend(ids.into_iter().map(|id| (id, now)));
    }
    retries
}
