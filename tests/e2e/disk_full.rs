//! A disk log that runs out of room: its `max_bytes` reached while a `block` consumer is
//! held back, and (as root, where tmpfs can be mounted) a real filesystem with no space
//! left. Either way `http` answers 503 instead of acknowledging, the host says why, nothing
//! is corrupted, and once the consumer catches up (and, for the filesystem, space is given
//! back) the producers go on; every event that was acknowledged reaches every consumer.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::{json, Value};

use crate::config::Config;
use crate::disk::{counts, disk_log, file_events, lines_with, message, post, recorded, recorder, segments, FILE, HTTP};
use crate::fixture::MEMORY_CAP_KIB;
use crate::support::{free_port, Env, Running, C};

/// A request's event: an id and about 1 KiB of data, so that a few MiB fill quickly.
fn event(id: &str) -> String {
    json!({ "specversion": "1.0", "id": id, "source": "/full", "type": "dev.evhost.test", "data": "x".repeat(1000) })
        .to_string()
}

/// `http` → `log` → `file` and the recorder `held`, which handles nothing until `held.go`.
/// Events are at most 16 KiB, so that a log of a few hundred KiB is allowed.
fn setup(env: &Env, log: Value) -> SocketAddr {
    recorder(env);
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    env.write_config(
        &Config::new()
            .table("host", json!({ "max_event_bytes": "16KiB" }))
            .table("log", log)
            .producer("api", HTTP)
            .config(json!({ "listen": addr.to_string() }))
            .consumer("file", FILE)
            .config(json!({ "path": "events.jsonl" }))
            .consumer("held", "librecorder.so")
            .set("policy", "block")
            .config(json!({ "hold": true })),
    );
    addr
}

fn start(env: &Env, addr: SocketAddr) -> Running {
    let mut host = env.spawn_capped(MEMORY_CAP_KIB);
    host.wait_for_line(&format!("listening on http://{addr}"));
    host
}

/// Sends new events until one is refused (503, or no answer within 3 s: the producer
/// waits) for a whole second, so that a log that is only briefly full while its writer
/// catches up does not count; returns the acknowledged ids and the refused one. Anything
/// but 202 and 503 fails the test.
fn fill(addr: SocketAddr) -> (Vec<String>, String) {
    let started = Instant::now();
    let mut acknowledged = Vec::new();
    let mut refused_since = None;
    let mut k = 0;
    loop {
        assert!(started.elapsed() < Duration::from_secs(10), "never refused for long after {k} events");
        let id = format!("e{k}");
        match post(addr, "application/cloudevents+json", &event(&id), Duration::from_secs(3)) {
            Ok(202) => {
                acknowledged.push(id);
                refused_since = None;
                k += 1;
            }
            Ok(503) | Err(_) => {
                if refused_since.get_or_insert_with(Instant::now).elapsed() > Duration::from_secs(1) {
                    return (acknowledged, id);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(other) => panic!("{other} for event {id}"),
        }
    }
}

/// Sends `id` until it is acknowledged (503s or no answer while the consumer catches up);
/// false if it is still refused after 10 s.
fn send_until_acknowledged(addr: SocketAddr, id: &str) -> bool {
    let started = Instant::now();
    loop {
        match post(addr, "application/cloudevents+json", &event(id), Duration::from_secs(3)) {
            Ok(202) => return true,
            Ok(503) | Err(_) if started.elapsed() > Duration::from_secs(10) => return false,
            Ok(503) | Err(_) => {}
            Ok(other) => panic!("{other} for event {id}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Releases `held`, has the refused event and 20 more acknowledged, stops the host, and
/// checks that every acknowledged event reached both consumers whole; then starts the host
/// once more on the same log, which must recover it without cutting or quarantining
/// anything.
fn resume_and_check(env: &Env, addr: SocketAddr, host: Running, mut acknowledged: Vec<String>, refused: String) {
    env.write("held.go", "");
    let more = (0..20).map(|k| format!("after{k}"));
    for id in std::iter::once(refused).chain(more) {
        if !send_until_acknowledged(addr, &id) {
            host.signal(Signal::SIGKILL);
            panic!("{id} still refused 10 s after the consumer was released; stderr:\n{}", host.wait().stderr);
        }
        acknowledged.push(id);
    }
    host.signal(Signal::SIGTERM);
    host.wait().expect_code(0);

    let events = file_events(env);
    let in_file = counts(events.iter().map(|e| e["id"].as_str().expect("an id")));
    let held = recorded(env, "held");
    let in_held = counts(held.iter().map(|(id, _)| id.as_str()));
    for id in &acknowledged {
        assert!(in_file.contains_key(id.as_str()), "acknowledged {id} never reached `file`");
        assert!(in_held.contains_key(id.as_str()), "acknowledged {id} never reached `held`");
    }

    let again = start(env, addr);
    again.signal(Signal::SIGTERM);
    let out = again.wait();
    out.expect_code(0);
    for damage in ["cut a torn record", "corrupt record"] {
        assert!(lines_with(&out.stderr, damage).is_empty(), "the log was damaged:\n{}", out.stderr);
    }
}

#[test]
fn a_disk_log_at_max_bytes_refuses_until_the_consumer_catches_up() {
    let env = Env::new();
    let max_bytes = 256 * 1024;
    let addr = setup(&env, disk_log(json!({ "segment_bytes": "64KiB", "max_bytes": max_bytes })));
    let mut host = start(&env, addr);
    let (acknowledged, refused) = fill(addr);
    let full = host.wait_for_line("the disk log is full");
    insta::assert_snapshot!("disk_log_full", message(&full));
    let on_disk: u64 = segments(&env.path("evlog")).iter().map(|s| std::fs::metadata(s).unwrap().len()).sum();
    println!("{} events acknowledged before the 503; {on_disk} bytes of segments", acknowledged.len());
    assert!(acknowledged.len() > 20, "the log took some events first");
    assert!(on_disk <= max_bytes, "the segments ({on_disk} bytes) stay within max_bytes ({max_bytes})");
    resume_and_check(&env, addr, host, acknowledged, refused);
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` at `at`; why not, when it cannot (not root, no CAP_SYS_ADMIN).
    fn mount(at: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| format!("no mount command: {e}"))?;
        if !out.status.success() {
            return Err(format!("mount -t tmpfs failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy, so that a host a failed test left running cannot keep it mounted.
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_filesystem_makes_producers_wait_and_resumes_when_space_returns() {
    let env = Env::new();
    let tmpfs = match Tmpfs::mount(&env.path("fs"), "3m") {
        Ok(tmpfs) => tmpfs,
        Err(why) => {
            println!("skipped: a full filesystem needs a tmpfs: {why}");
            return;
        }
    };
    // Half the filesystem is taken by a file the test removes to give the space back.
    env.write("fs/ballast", &"b".repeat(1536 * 1024));
    let addr = setup(&env, disk_log(json!({ "path": "fs/evlog", "segment_bytes": "256KiB" })));
    let mut host = start(&env, addr);
    let (acknowledged, refused) = fill(addr);
    let failed = host.wait_for_line("cannot write the disk log");
    insta::assert_snapshot!("disk_filesystem_full", message(&failed));
    println!("{} events acknowledged before the filesystem was full", acknowledged.len());
    assert!(acknowledged.len() > 20, "the log took some events first");
    std::fs::remove_file(env.path("fs/ballast")).unwrap();
    resume_and_check(&env, addr, host, acknowledged, refused);
    drop(tmpfs);
}

/// The same without HTTP: `sequence` emits (and waits when the log is full) far more than
/// the filesystem holds, so the writer meets "no space left" with a backlog larger than the
/// room that comes back. Once space returns and `held` is released, the run goes to its end
/// and both consumers get every event.
#[test]
fn a_backlog_larger_than_the_space_that_returns_is_written_as_room_allows() {
    let env = Env::new();
    let tmpfs = match Tmpfs::mount(&env.path("fs"), "3m") {
        Ok(tmpfs) => tmpfs,
        Err(why) => {
            println!("skipped: a full filesystem needs a tmpfs: {why}");
            return;
        }
    };
    env.write("fs/ballast", &"b".repeat(1536 * 1024));
    recorder(&env);
    let count = 20_000;
    env.write_config(
        &Config::new()
            .table("log", disk_log(json!({ "path": "fs/evlog", "segment_bytes": "256KiB", "capacity": 4096 })))
            .producer("seq", C)
            .plugin("sequence")
            .config(json!({ "count": count, "payload_bytes": 1000 }))
            .consumer("all", "librecorder.so")
            .consumer("held", "librecorder.so")
            .set("policy", "block")
            .config(json!({ "hold": true })),
    );
    let mut host = env.spawn_capped(MEMORY_CAP_KIB);
    host.wait_for_line("cannot write the disk log");
    std::fs::remove_file(env.path("fs/ballast")).unwrap();
    env.write("held.go", "");
    let out = host.wait();
    out.expect_code(0);
    for consumer in ["all", "held"] {
        let seqs: HashSet<u64> = recorded(&env, consumer).into_iter().map(|(_, seq)| seq).collect();
        assert_eq!(seqs.len(), count, "`{consumer}` got every event once or more");
    }
    drop(tmpfs);
}

/// `sequence` into a disk log at its `max_bytes` (held back by `held`), killed with -9
/// while producers wait, then started again with `held` released and nothing more to send:
/// the host recovers, delivers to `held` every event `all` had been given, and stops by
/// itself.
#[test]
fn kill_9_while_the_disk_log_is_full_then_a_restart_delivers_what_was_committed() {
    let env = Env::new();
    recorder(&env);
    let config = |count: u64, drain: &str| {
        Config::new()
            .table("host", json!({ "max_event_bytes": "16KiB", "drain_timeout": drain }))
            .table("log", disk_log(json!({ "segment_bytes": "64KiB", "max_bytes": "256KiB" })))
            .producer("seq", C)
            .plugin("sequence")
            .config(json!({ "count": count }))
            .consumer("all", "librecorder.so")
            .consumer("held", "librecorder.so")
            .set("policy", "block")
            .config(json!({ "hold": true }))
    };
    env.write_config(&config(100_000, "1s"));
    let mut host = env.spawn_capped(MEMORY_CAP_KIB);
    host.wait_for_line("the disk log is full");
    host.signal(Signal::SIGKILL);
    assert_eq!(host.wait().status.code(), None, "killed");
    let seen: HashSet<u64> = recorded(&env, "all").into_iter().map(|(_, seq)| seq).collect();

    env.write("held.go", "");
    env.write_config(&config(0, "10s"));
    let out = env.spawn_capped(MEMORY_CAP_KIB).wait();
    out.expect_code(0);
    let got: HashSet<u64> = recorded(&env, "held").into_iter().map(|(_, seq)| seq).collect();
    let missing = seen.difference(&got).count();
    println!("`all` had {} events before the kill; `held` got {} after the restart", seen.len(), got.len());
    assert_eq!(missing, 0, "{missing} events `all` had been given never reached `held`");
}
