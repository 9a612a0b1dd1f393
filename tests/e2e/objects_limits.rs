//! The `objects` producer against hostile input: an S3 client that sends a huge header
//! line, a wrong token with a large body announced, and many idle connections; and a
//! watched folder with a symlink that leads out of it.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::http_limits::{closed_within, expect_bare_431_or_close, read_response};
use crate::objects::{aws_record, events_reach, object, objects, stop, SETTLE};
use crate::support::{free_port, Running};

/// A field of /proc/<pid>/status in KiB, e.g. `VmHWM` (the peak resident memory).
fn status_kib(pid: i32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    let line = status.lines().find(|l| l.starts_with(&format!("{field}:"))).expect("the field");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a number of kB")
}

fn threads(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).expect("/proc/<pid>/task").count()
}

/// The S3 endpoint with `extra` config keys, running; returns it and its address.
fn s3(extra: &str) -> (crate::support::Env, Running, String) {
    let port = free_port();
    let env = objects(&format!(r#"s3_listen = "127.0.0.1:{port}"{extra}"#));
    let mut running = env.spawn();
    running.wait_for_line("listening for S3 event notifications");
    (env, running, format!("127.0.0.1:{port}"))
}

fn notify(address: &str, key: &str) -> u16 {
    let message = json!({ "Records": [aws_record("ObjectCreated:Put", key, json!({ "size": 5 }))] });
    match ureq::post(&format!("http://{address}/"))
        .set("Authorization", "Bearer t0k3n")
        .send_string(&message.to_string())
    {
        Ok(response) => response.status(),
        Err(ureq::Error::Status(status, _)) => status,
        Err(e) => panic!("the request failed: {e}"),
    }
}

/// 64 MiB of one header line (the issue saw 512 MiB buffered, RSS to 1 GB): the server
/// reads 64 KiB of it, answers 431 or resets, and the host's peak memory stays put.
#[test]
fn a_huge_header_line_is_refused_without_memory_growing() {
    let (env, running, address) = s3(r#", s3_token = "t0k3n""#);
    let pid = running.pid().as_raw();
    let before = status_kib(pid, "VmHWM");
    let mut stream = TcpStream::connect(&address).unwrap();
    stream.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Huge: ").unwrap();
    let chunk = vec![b'h'; 1 << 20];
    let sent = (0..64).take_while(|_| stream.write_all(&chunk).is_ok()).count();
    assert!(sent < 64, "the server kept reading a 64 MiB header line");
    expect_bare_431_or_close(&mut stream);
    let grown = status_kib(pid, "VmHWM").saturating_sub(before);
    assert!(grown < 8 << 10, "the peak memory grew by {grown} KiB");
    assert_eq!(notify(&address, "after.txt"), 200, "the endpoint still serves");
    events_reach(&env, 1);
    let events = stop(&env, running);
    assert_eq!(events.len(), 1, "{events:#?}");
}

/// A wrong token is answered before the body is read: the client announces 100 MiB, sends
/// none of it, and gets its 401 at once.
#[test]
fn a_wrong_token_is_refused_before_the_body_is_read() {
    let (env, running, address) = s3(r#", s3_token = "t0k3n""#);
    let mut stream = TcpStream::connect(&address).unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer guess\r\nContent-Length: 104857600\r\n\r\n")
        .unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let started = Instant::now();
    let answer = read_response(&mut stream);
    assert_eq!(answer.status, 401, "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "answered after {:?}", started.elapsed());
    assert_eq!(answer.body, "a missing or wrong token: send Authorization: Bearer <s3_token>\n");
    // With the right token, 9 MiB announced is over the 8 MiB cap: 413, again unread.
    let mut stream = TcpStream::connect(&address).unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t0k3n\r\nContent-Length: 9437184\r\n\r\n")
        .unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let answer = read_response(&mut stream);
    assert_eq!((answer.status, answer.body.as_str()), (413, "the body is over 8388608 bytes\n"));
    assert!(stop(&env, running).is_empty());
}

/// 200 idle connections are 200 tasks on the endpoint's one thread, not 200 threads; a
/// slow head and an idle connection are closed at their timeouts; a notification after
/// them is still served.
#[test]
fn idle_and_slow_connections_cost_no_threads_and_are_closed() {
    let (env, running, address) = s3(r#", s3_token = "t0k3n", s3_idle_timeout = "1s", s3_header_timeout = "500ms""#);
    let pid = running.pid().as_raw();
    let before = threads(pid);
    let mut idle: Vec<TcpStream> = (0..200).map(|_| TcpStream::connect(&address).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let during = threads(pid);
    assert!(during <= before, "{during} threads with 200 idle connections, {before} before");
    assert_eq!(notify(&address, "during.txt"), 200);
    let mut slow = TcpStream::connect(&address).unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: a").unwrap();
    let took = closed_within(&mut slow, Duration::from_secs(3));
    assert!(took >= Duration::from_millis(400), "a slow head was cut off after only {took:?}");
    closed_within(&mut idle[0], Duration::from_secs(3));
    std::thread::sleep(SETTLE);
    running.signal(nix::sys::signal::Signal::SIGTERM);
    let out = running.wait();
    out.expect_code(0);
    assert!(
        out.stderr.contains("1 closed for a head slower than s3_header_timeout, 200 closed idle"),
        "{}",
        out.stderr
    );
    let events = env.json_lines("events.jsonl");
    assert_eq!(events.len(), 1, "{events:#?}");
    drop(idle);
}

/// A folder linked into the bucket from outside: its files are not reported (not at the
/// initial scan, not when written later) unless `follow_symlinks = true`.
#[test]
fn a_symlink_out_of_the_root_is_followed_only_when_asked() {
    for follow in [false, true] {
        let env = objects(&format!(r#"path = "bucket", initial_scan = true, follow_symlinks = {follow}"#));
        std::fs::create_dir(env.path("bucket")).unwrap();
        std::fs::create_dir(env.path("outside")).unwrap();
        std::fs::write(env.path("outside/secret.txt"), "hello").unwrap();
        std::os::unix::fs::symlink(env.path("outside"), env.path("bucket/link")).unwrap();
        std::fs::write(env.path("bucket/own.txt"), "hello").unwrap();
        let mut running = env.spawn();
        running.wait_for_line("watching");
        std::fs::write(env.path("outside/later.txt"), "hello").unwrap();
        std::thread::sleep(SETTLE);
        let events = stop(&env, running);
        let keys: Vec<_> = events.iter().map(|e| object(e, "bucket")).map(|(ty, key, _)| (ty, key)).collect();
        let created = |key: &str| ("created".to_owned(), key.to_owned());
        if follow {
            assert_eq!(keys, [created("link/secret.txt"), created("own.txt"), created("link/later.txt")]);
        } else {
            assert_eq!(keys, [created("own.txt")], "nothing from outside the root");
        }
    }
}
