//! The HTTP side: one handler for every path, which checks the head's size, the method,
//! the token and the body (size and time), reads the events (see `binding`), hands them to
//! the host with `try_emit_tracked`, awaits their commit and answers with what the host
//! said: `202` only once the events are committed (on the disk log: fsynced as its policy
//! says), so a client never holds an acknowledgement for an event a crash could lose. The
//! handler never blocks the runtime: a full log is a `503` with `Retry-After`, not a wait,
//! and the commit is a future the SDK's `on_committed` hook wakes, so many requests wait
//! for their commits at once on the one thread. Connections, their
//! timeouts and their number are `evhost_http_serve`'s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::http::header::{ALLOW, AUTHORIZATION, CONNECTION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use evhost_http_serve::{head_too_large, read_body, BodyError};
use evhost_sdk::{Context, EmitError, Emitter, OutEvent};
use serde_json::json;
use subtle::ConstantTimeEq;
use tokio::sync::watch;

use crate::binding::{self, Rejection};
use crate::config::Settings;

/// How long in-flight requests may take to finish once the host asked us to stop.
const GRACE: Duration = Duration::from_secs(5);

/// What every request needs.
struct Shared {
    settings: Settings,
    /// `try_emit_tracked` never waits, so one emitter behind a lock serves every request.
    emitter: Mutex<Emitter>,
    stats: Stats,
}

#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    events: AtomicU64,
    busy: AtomicU64,
    rejected: AtomicU64,
}

/// Serves until `stop` turns true, then lets in-flight requests finish (for up to `GRACE`)
/// and returns. New connections are refused from the moment `stop` turns true.
pub async fn serve(
    listener: std::net::TcpListener,
    settings: Settings,
    emitter: Emitter,
    ctx: &Context,
    stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    ctx.info(format!("listening on http://{}", listener.local_addr()?));
    let limits = settings.limits.clone();
    let shared = Arc::new(Shared { settings, emitter: Mutex::new(emitter), stats: Stats::default() });
    let handler = {
        let shared = shared.clone();
        move |request| handle(shared.clone(), request)
    };
    let connections = evhost_http_serve::serve(listener, limits, &|m| ctx.warn(m), handler, stopped(stop), GRACE).await;
    if connections.cut_off {
        ctx.warn(format!("requests still in flight {GRACE:?} after the stop request were cut off"));
    }
    let stats = &shared.stats;
    let count = |n: &AtomicU64| n.load(Ordering::Relaxed);
    ctx.info(format!(
        "stopped after {} requests: {} events accepted, {} refused while the log was full (503), {} rejected (4xx); {} connections, {} closed for a head slower than header_timeout, {} closed idle",
        count(&stats.requests),
        count(&stats.events),
        count(&stats.busy),
        count(&stats.rejected),
        connections.connections,
        connections.slow_heads,
        connections.idle,
    ));
    Ok(())
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    // An error means the sender is gone, which only happens when the producer is dropped.
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn handle<B>(shared: Arc<Shared>, request: Request<B>) -> Response
where
    B: axum::body::HttpBody,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    shared.stats.requests.fetch_add(1, Ordering::Relaxed);
    let response = match accept(&shared, request).await {
        Ok(response) => response,
        Err(refusal) => refusal.into_response(),
    };
    let counter = match response.status() {
        StatusCode::ACCEPTED => None,
        StatusCode::SERVICE_UNAVAILABLE => Some(&shared.stats.busy),
        _ => Some(&shared.stats.rejected),
    };
    if let Some(counter) = counter {
        counter.fetch_add(1, Ordering::Relaxed);
    }
    response
}

async fn accept<B>(shared: &Shared, request: Request<B>) -> Result<Response, Refusal>
where
    B: axum::body::HttpBody,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let settings = &shared.settings;
    let (parts, body) = request.into_parts();
    if let Some(reason) = head_too_large(&parts, &settings.limits) {
        return Err(Refusal::new(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, reason));
    }
    if !settings.methods.contains(&parts.method) {
        let reason = format!("method {} is not accepted here; use {}", parts.method, settings.allow);
        return Err(Refusal::new(StatusCode::METHOD_NOT_ALLOWED, reason).header(ALLOW, settings.allow.clone()));
    }
    if let Some(token) = &settings.token {
        authorize(&parts.headers, token)?;
    }
    let body = read_body(&parts, body, settings.max_body_bytes, settings.limits.body_timeout)
        .await
        .map_err(|e| body_refusal(e, settings))?;
    let events = binding::events(&parts, &body, &settings.ty)?;
    // The guard is let go before the await: other requests emit while this one waits.
    let emitted = shared.emitter.lock().unwrap_or_else(PoisonError::into_inner).try_emit_tracked(&events);
    let ticket = emitted.map_err(|refused| emit_refusal(refused, &events))?;
    if ticket.committed().await.is_err() {
        return Err(Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the host stopped before the events were committed: they were accepted but may be lost; send them again with the same ids (a consumer can tell duplicates by id)",
        )
        .header(RETRY_AFTER, "1".into()));
    }
    shared.stats.events.fetch_add(events.len() as u64, Ordering::Relaxed);
    let ids: Vec<&str> = events.iter().map(|e| &*e.id).collect();
    Ok((StatusCode::ACCEPTED, Json(json!({ "accepted": ids.len(), "ids": ids }))).into_response())
}

/// The answer to a batch the host did not accept.
fn emit_refusal(refused: EmitError, events: &[OutEvent<'_>]) -> Refusal {
    match refused {
        EmitError::Busy => {
            Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "the event log is full; nothing was accepted, retry later")
                .header(RETRY_AFTER, "1".into())
        }
        EmitError::Stopped => {
            Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "the host is stopping; nothing was accepted")
                .header(RETRY_AFTER, "1".into())
        }
        EmitError::Invalid(why) => Refusal::new(StatusCode::BAD_REQUEST, format!("the host refused the events: {why}")),
        EmitError::TooLarge => Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, too_large(events)),
        other => Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    }
}

/// `Authorization: Bearer <token>`, compared in constant time.
fn authorize(headers: &HeaderMap, token: &str) -> Result<(), Refusal> {
    let given = headers.get(AUTHORIZATION).and_then(|value| {
        let value = value.as_bytes();
        // The scheme is case-insensitive (RFC 9110); the token is not.
        let (scheme, rest) = value.split_at_checked(7)?;
        scheme.eq_ignore_ascii_case(b"bearer ").then(|| rest.trim_ascii())
    });
    let reason = match given {
        Some(given) if bool::from(given.ct_eq(token.as_bytes())) => return Ok(()),
        Some(_) => "the bearer token is wrong",
        None => "this endpoint needs an `Authorization: Bearer <token>` header",
    };
    Err(Refusal::new(StatusCode::UNAUTHORIZED, reason).header(WWW_AUTHENTICATE, "Bearer realm=\"evhost\"".into()))
}

/// 413, 408 or 400 for a body that was not read. After a 408 the rest of the body may
/// still come: the connection is closed rather than read to its end.
fn body_refusal(error: BodyError, settings: &Settings) -> Refusal {
    match error {
        BodyError::TooLarge => Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over max_body_bytes ({} bytes)", settings.max_body_bytes),
        ),
        BodyError::Timeout => Refusal::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the body did not arrive within body_timeout ({:?}); nothing was accepted; send the whole body within that time",
                settings.limits.body_timeout
            ),
        )
        .header(CONNECTION, "close".into()),
        BodyError::Read(e) => Refusal::new(StatusCode::BAD_REQUEST, format!("cannot read the body: {e}")),
    }
}

/// Why the host found a batch too large. Both reasons share `EVH_ERR_TOO_LARGE`, and the
/// host's own message reaches its log, not the plugin; one event is always the first
/// reason, because the host keeps its log larger than its largest event.
fn too_large(events: &[OutEvent<'_>]) -> String {
    match events {
        [event] => format!(
            "event {:?} is over the host's max_event_bytes; send large payloads by reference, or raise [host] max_event_bytes; nothing was accepted",
            event.id
        ),
        _ => format!(
            "the batch of {} events is too large for the host: either it is larger than the whole event log ([log] capacity in events, or max_bytes), so send it as smaller batches or raise those, or one of its events is over [host] max_event_bytes; the host's log line \"emit refused\" says which; nothing was accepted",
            events.len()
        ),
    }
}

/// A response other than 202: a status, a reason as JSON `{"error": ...}`, maybe a header.
struct Refusal {
    status: StatusCode,
    reason: String,
    header: Option<(axum::http::HeaderName, String)>,
}

impl Refusal {
    fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Refusal { status, reason: reason.into(), header: None }
    }

    fn header(mut self, name: axum::http::HeaderName, value: String) -> Self {
        self.header = Some((name, value));
        self
    }
}

impl From<Rejection> for Refusal {
    fn from(rejection: Rejection) -> Self {
        Refusal::new(rejection.status, rejection.reason)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "error": self.reason }))).into_response();
        if let Some((name, value)) = self.header {
            if let Ok(value) = value.parse() {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}
