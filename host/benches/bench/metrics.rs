//! `evhost_c_metrics`: the `evhost_c` scenario with the admin endpoint on and `/metrics`
//! scraped once a second, as Prometheus would. Its rate beside `evhost_c`'s shows what the
//! metrics cost the data path: counted once per batch, read only when scraped, they should
//! cost nothing measurable.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::fixture::{self, Result, PAYLOAD};

const SCRAPE_EVERY: Duration = Duration::from_secs(1);

/// One `GET /metrics`; true when it answered 200 with the consumers' counter in it.
fn scrape(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    // hyper answers an HTTP/1.0 request as HTTP/1.0.
    answer.starts_with("HTTP/1.0 200") && answer.contains("evhost_received_events_total{")
}

/// Throughput as in `host_process::throughput`, with `/metrics` scraped every second from
/// the moment it answers until the host exits; fails if no scrape succeeded.
pub fn throughput(producer_lib: &Path, consumer_lib: &Path, events: u64) -> Result<Duration> {
    let dir = fixture::run_dir()?;
    let (config, files) = fixture::fan_out(dir.path(), fixture::LogKind::Memory, producer_lib, consumer_lib, events);
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let path = dir.path().join("bench.toml");
    let text = format!("[admin]\nlisten = \"127.0.0.1:{port}\"\n\n{}", config.text());
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let log = dir.path().join("evhost.log");
    let out = std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let done = AtomicBool::new(false);
    let start = Instant::now();
    let mut child = Command::new(fixture::evhost_binary()?)
        .args(["run", "-c"])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start evhost: {e}"))?;
    let (status, scrapes) = thread::scope(|scope| {
        let scraper = scope.spawn(|| {
            let mut scrapes = 0u32;
            // Until the first answer, try often: a short run may be over within a second.
            while !done.load(Ordering::Acquire) {
                if scrape(port) {
                    scrapes += 1;
                    thread::park_timeout(SCRAPE_EVERY);
                } else {
                    thread::park_timeout(Duration::from_millis(5));
                }
            }
            scrapes
        });
        let status = child.wait();
        done.store(true, Ordering::Release);
        scraper.thread().unpark();
        (status, scraper.join().unwrap_or(0))
    });
    let elapsed = start.elapsed();
    let status = status.map_err(|e| format!("cannot wait for evhost: {e}"))?;
    if !status.success() {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        return Err(format!("evhost exited with {status}; its log:\n{log}"));
    }
    if scrapes == 0 {
        return Err("no scrape of /metrics succeeded while the host ran".into());
    }
    fixture::verify_counts(&files, events, PAYLOAD)?;
    Ok(elapsed)
}
