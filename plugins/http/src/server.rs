//! The HTTP side: one handler for every path, which checks the method, the token and the
//! body size, reads the events (see `binding`), hands them to the host with `try_emit` and
//! answers with what the host said. The handler never blocks the runtime: a full log is a
//! `503` with `Retry-After`, not a wait.

use std::future::IntoFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{ALLOW, AUTHORIZATION, CONTENT_LENGTH, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use evhost_sdk::{Context, EmitError, Emitter};
use http_body_util::{BodyExt, LengthLimitError, Limited};
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
    /// `try_emit` never waits, so one emitter behind a lock serves every request.
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
    let shared = Arc::new(Shared { settings, emitter: Mutex::new(emitter), stats: Stats::default() });
    let app = Router::new().fallback(handle).with_state(shared.clone());
    let graceful = axum::serve(listener, app).with_graceful_shutdown(stopped(stop.clone()));
    let deadline = async {
        stopped(stop).await;
        tokio::time::sleep(GRACE).await;
    };
    tokio::select! {
        served = graceful.into_future() => served?,
        () = deadline => ctx.warn(format!("requests still in flight {GRACE:?} after the stop request were cut off")),
    }
    let stats = &shared.stats;
    let count = |n: &AtomicU64| n.load(Ordering::Relaxed);
    ctx.info(format!(
        "stopped after {} requests: {} events accepted, {} refused while the log was full (503), {} rejected (4xx)",
        count(&stats.requests),
        count(&stats.events),
        count(&stats.busy),
        count(&stats.rejected)
    ));
    Ok(())
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    // An error means the sender is gone, which only happens when the producer is dropped.
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
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

async fn accept(shared: &Shared, request: Request) -> Result<Response, Refusal> {
    let settings = &shared.settings;
    let (parts, body) = request.into_parts();
    if !settings.methods.contains(&parts.method) {
        let reason = format!("method {} is not accepted here; use {}", parts.method, settings.allow);
        return Err(Refusal::new(StatusCode::METHOD_NOT_ALLOWED, reason).header(ALLOW, settings.allow.clone()));
    }
    if let Some(token) = &settings.token {
        authorize(&parts.headers, token)?;
    }
    let body = read_body(&parts.headers, body, settings.max_body_bytes).await?;
    let events = binding::events(&parts, &body, &settings.ty)?;
    let result = shared.emitter.lock().unwrap_or_else(PoisonError::into_inner).try_emit(&events);
    match result {
        Ok(()) => {
            shared.stats.events.fetch_add(events.len() as u64, Ordering::Relaxed);
            let ids: Vec<&str> = events.iter().map(|e| &*e.id).collect();
            Ok((StatusCode::ACCEPTED, Json(json!({ "accepted": ids.len(), "ids": ids }))).into_response())
        }
        Err(EmitError::Busy) => Err(Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the event log is full; nothing was accepted, retry later",
        )
        .header(RETRY_AFTER, "1".into())),
        Err(EmitError::Stopped) => {
            Err(Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "the host is stopping; nothing was accepted")
                .header(RETRY_AFTER, "1".into()))
        }
        Err(EmitError::Invalid(why)) => {
            Err(Refusal::new(StatusCode::BAD_REQUEST, format!("the host refused the events: {why}")))
        }
        Err(EmitError::TooLarge) => Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "an event is over the host's max_event_bytes; nothing was accepted",
        )),
        Err(other) => Err(Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string())),
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

/// The whole body, or 413 as soon as it is known to be over `max`.
async fn read_body(headers: &HeaderMap, body: Body, max: usize) -> Result<axum::body::Bytes, Refusal> {
    let too_large =
        || Refusal::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is over max_body_bytes ({max} bytes)"));
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(e) => Err(Refusal::new(StatusCode::BAD_REQUEST, format!("cannot read the body: {e}"))),
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
