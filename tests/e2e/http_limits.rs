//! The `http` producer against clients that try to hold the host: a head sent slowly
//! (slowloris), a body at one byte a second, idle keep-alives, a flood of idle connections,
//! and heads with too many or too large headers. Raw sockets, since timing is the point;
//! short timeouts in the configs keep every test to a few seconds.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::http::{start, Host};

/// A response read off a raw socket: status, head and body.
#[derive(Debug)]
pub(crate) struct Raw {
    pub(crate) status: u16,
    pub(crate) head: String,
    pub(crate) body: String,
}

impl Raw {
    /// The body as JSON.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("the {} body is not JSON ({e}): {self:?}", self.status))
    }
}

/// Reads one response (head, then Content-Length bytes) and leaves the connection open.
pub(crate) fn read_response(stream: &mut TcpStream) -> Raw {
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => bytes.push(byte[0]),
            other => {
                panic!("the connection ended in a response head ({other:?}): {:?}", String::from_utf8_lossy(&bytes))
            }
        }
    }
    let head = String::from_utf8(bytes).expect("an ASCII head");
    let status = head[9..12].parse().unwrap_or_else(|_| panic!("no status in {head:?}"));
    let length = head
        .lines()
        .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_owned))
        .map_or(0, |n| n.trim().parse().expect("a Content-Length"));
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).expect("the body");
    Raw { status, head, body: String::from_utf8(body).expect("a UTF-8 body") }
}

/// How long until the server closes `stream` (EOF or a reset); panics after `limit`.
pub(crate) fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return started.elapsed(),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return started.elapsed(),
            Err(e) => panic!("still open after {:?} ({e})", started.elapsed()),
        }
    }
}

fn connect(host: &Host) -> TcpStream {
    TcpStream::connect(host.base.trim_start_matches("http://")).expect("connect")
}

/// The number of file descriptors process `pid` has open.
pub(crate) fn open_files(pid: i32) -> usize {
    std::fs::read_dir(Path::new("/proc").join(pid.to_string()).join("fd")).expect("/proc/<pid>/fd").count()
}

/// A head sent a byte every 100 ms and never finished is cut at `header_timeout`.
#[test]
fn a_slowloris_head_is_closed_at_header_timeout() {
    let host = start("", r#"header_timeout = "500ms", idle_timeout = "10s""#, "");
    let mut slow = connect(&host);
    slow.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
    let writer = {
        let mut slow = slow.try_clone().unwrap();
        std::thread::spawn(move || {
            for _ in 0..50 {
                if slow.write_all(b"a").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let took = closed_within(&mut slow, Duration::from_secs(3));
    assert!(took >= Duration::from_millis(400), "cut off after only {took:?}");
    writer.join().unwrap();
    let (out, lines) = host.stop();
    assert!(lines.is_empty(), "{lines:?}");
    assert!(out.stderr.contains("1 closed for a head slower than header_timeout"), "{}", out.stderr);
}

/// A body at one byte per 200 ms gets 408 with a JSON reason at `body_timeout`, and the
/// connection is closed; nothing is emitted.
#[test]
fn a_trickling_body_gets_408_at_body_timeout() {
    let host = start("", r#"body_timeout = "1s""#, "");
    let mut slow = connect(&host);
    slow.write_all(b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let writer = {
        let mut slow = slow.try_clone().unwrap();
        std::thread::spawn(move || {
            for _ in 0..20 {
                if slow.write_all(b"x").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let answer = read_response(&mut slow);
    let took = started.elapsed();
    assert_eq!(answer.status, 408, "{answer:?}");
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(3), "answered after {took:?}");
    assert!(answer.head.to_ascii_lowercase().contains("connection: close"), "{answer:?}");
    insta::assert_snapshot!("body_timeout", answer.json()["error"].as_str().expect("a reason"));
    closed_within(&mut slow, Duration::from_secs(2));
    writer.join().unwrap();
    let (_, lines) = host.stop();
    assert!(lines.is_empty(), "{lines:?}");
}

/// A keep-alive connection that sends no next request is closed at `idle_timeout`, and
/// one that never sends a first request too.
#[test]
fn idle_keep_alive_connections_are_closed_at_idle_timeout() {
    let host = start("", r#"idle_timeout = "500ms", header_timeout = "10s""#, "");
    let mut kept = connect(&host);
    kept.write_all(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi").unwrap();
    kept.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(read_response(&mut kept).status, 202);
    // Still open for a second request within the timeout.
    kept.write_all(b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nho").unwrap();
    assert_eq!(read_response(&mut kept).status, 202);
    let idle = closed_within(&mut kept, Duration::from_secs(3));
    assert!(idle >= Duration::from_millis(400), "closed after only {idle:?}");
    let mut silent = connect(&host);
    let never = closed_within(&mut silent, Duration::from_secs(3));
    assert!(never >= Duration::from_millis(400), "closed after only {never:?}");
    let (out, lines) = host.stop();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(out.stderr.contains("2 closed idle"), "{}", out.stderr);
}

/// 300 idle connections against `max_connections = 50`: the host holds at most 50 of them
/// (the rest wait in the kernel's backlog, costing the host nothing), logs that the limit
/// was reached once, and a real request made behind them is answered once `idle_timeout`
/// has freed the way.
#[test]
fn a_flood_of_idle_connections_holds_at_most_max_connections() {
    let host = start("", r#"max_connections = 50, idle_timeout = "300ms""#, "");
    let pid = host.running.pid().as_raw();
    let before = open_files(pid);
    let flood: Vec<TcpStream> = (0..300).map(|_| connect(&host)).collect();
    std::thread::sleep(Duration::from_millis(150));
    let during = open_files(pid);
    // 50 connections, and a little room for anything else the host opens meanwhile.
    assert!(during <= before + 53, "{during} descriptors open with the flood, {before} before");
    let started = Instant::now();
    let reply = host.post("/after-the-flood", "text/plain", b"still here");
    assert_eq!(reply.status, 202, "{reply:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "answered after {:?}", started.elapsed());
    drop(flood);
    let (out, lines) = host.stop();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let warnings = out.stderr.matches("connections are open, the limit (max_connections)").count();
    assert_eq!(warnings, 1, "one warning per minute at most:\n{}", out.stderr);
}

/// 200 header fields (over `max_headers` = 100) or one 20 KiB header (over
/// `max_header_bytes` = 16 KiB) get 431 with a JSON reason; a head far over the limits
/// is refused before it is kept.
#[test]
fn too_many_or_too_large_headers_get_431_with_a_reason() {
    let host = start("", "", "");
    let many: String = (0..200).map(|i| format!("X-Header-{i}: {i}\r\n")).collect();
    let mut stream = connect(&host);
    write!(stream, "POST / HTTP/1.1\r\nHost: x\r\n{many}Content-Length: 2\r\n\r\nhi").unwrap();
    let answer = read_response(&mut stream);
    assert_eq!(answer.status, 431, "{answer:?}");
    insta::assert_snapshot!("too_many_headers", answer.json()["error"].as_str().expect("a reason"));

    let mut stream = connect(&host);
    let large = "v".repeat(20 << 10);
    write!(stream, "POST / HTTP/1.1\r\nHost: x\r\nX-Large: {large}\r\nContent-Length: 2\r\n\r\nhi").unwrap();
    let answer = read_response(&mut stream);
    assert_eq!(answer.status, 431, "{answer:?}");
    assert!(answer.json()["error"].as_str().unwrap().contains("max_header_bytes"), "{answer:?}");

    // 128 KiB of one header line: hyper stops at 4 x 16 KiB and closes, with a bare 431
    // when the client is still there to read it.
    let mut stream = connect(&host);
    stream.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Huge: ").unwrap();
    let _ = (0..8).try_for_each(|_| stream.write_all(&[b'h'; 16 << 10]));
    expect_bare_431_or_close(&mut stream);
    let (out, lines) = host.stop();
    assert!(lines.is_empty(), "{lines:?}");
    assert!(out.stderr.contains("2 rejected (4xx)"), "{}", out.stderr);
}

/// A head far over the limits ends the connection: with a bare 431 when the client is
/// still there to read it, or with a close or a reset.
pub(crate) fn expect_bare_431_or_close(stream: &mut TcpStream) {
    stream.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut start = [0u8; 12];
    match stream.read(&mut start) {
        Ok(0) => {}
        Ok(n) => assert!(start[..n].starts_with(b"HTTP/1.1 431"), "{:?}", String::from_utf8_lossy(&start[..n])),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}"),
    }
}
