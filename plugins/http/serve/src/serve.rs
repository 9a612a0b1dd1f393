//! The accept loop: a connection is accepted only with a permit of `max_connections`, and
//! served on a task of its own until it ends, overstays its clock, or the server stops.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::conn::{Clock, Phase, Watched};
use crate::{Limits, HARD_FACTOR};

/// How often at most the same warning (the limit reached, accept failing) is logged.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// What happened to the connections of one `serve`.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections: u64,
    /// Closed because a request head was not complete within `header_timeout`.
    pub slow_heads: u64,
    /// Closed after `idle_timeout` without a request.
    pub idle: u64,
    /// Connections were still open `grace` after the stop, and were cut off.
    pub cut_off: bool,
}

#[derive(Default)]
struct Counters {
    slow_heads: AtomicU64,
    idle: AtomicU64,
}

/// Serves `handler` on `listener` until `stop` resolves; then closes the listener (new
/// connections are refused), lets requests in flight finish for up to `grace`, and returns.
/// `warn` logs a warning the way its caller logs (a plugin through its context, the host
/// through its own log), at most once a minute for the same cause.
pub async fn serve<H, F, B>(
    listener: TcpListener,
    limits: Limits,
    warn: &dyn Fn(String),
    handler: H,
    stop: impl Future<Output = ()>,
    grace: Duration,
) -> Stats
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut http = http1::Builder::new();
    let hard_bytes = limits.max_header_bytes.saturating_mul(HARD_FACTOR);
    http.timer(TokioTimer::new())
        // `Clock` times heads: hyper's timer would also run while a keep-alive waits.
        .header_read_timeout(None)
        .max_headers(limits.max_headers.saturating_mul(HARD_FACTOR))
        .max_header_size(hard_bytes)
        .max_buf_size(hard_bytes.max(8192));
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let counters = Arc::new(Counters::default());
    let mut stats = Stats::default();
    let mut warned: [Option<Instant>; 2] = [None, None];
    let mut warn = |which: usize, message: String| {
        if warned[which].is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            warned[which] = Some(Instant::now());
            warn(message);
        }
    };
    tokio::pin!(stop);
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                warn(
                    0,
                    format!(
                        "{} connections are open, the limit (max_connections); new ones wait until one closes",
                        limits.max_connections
                    ),
                );
                tokio::select! {
                    permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
                    () = &mut stop => break,
                }
            }
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors (EMFILE) or a connection reset before accept: wait a
                    // little rather than spin on an error that repeats at once.
                    warn(1, format!("cannot accept a connection: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        stats.connections += 1;
        let clock = Clock::new();
        let service = {
            let (handler, clock) = (handler.clone(), clock.clone());
            service_fn(move |request| {
                clock.set(Phase::Busy);
                let (answer, clock) = (handler(request), clock.clone());
                async move {
                    let response = answer.await;
                    clock.set(Phase::Idle);
                    Ok::<_, Infallible>(response)
                }
            })
        };
        let connection =
            graceful.watch(http.serve_connection(TokioIo::new(Watched::new(stream, clock.clone())), service));
        let (limits, counters) = (limits.clone(), counters.clone());
        tokio::spawn(async move {
            let _permit = permit;
            tokio::select! {
                // An error is the client's (a reset, a malformed head hyper answered 400/431).
                _ = connection => {}
                phase = clock.expired(&limits) => {
                    let counter = if phase == Phase::Head { &counters.slow_heads } else { &counters.idle };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => stats.cut_off = true,
    }
    stats.slow_heads = counters.slow_heads.load(Ordering::Relaxed);
    stats.idle = counters.idle.load(Ordering::Relaxed);
    stats
}
