//! What each request gets: the endpoints, the token check, and a message for anything
//! else. Answers are built at once from the registry; only a reload waits (see `reload`).

use hyper::body::Bytes;
use hyper::header::{HeaderValue, ALLOW, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};
use serde_json::json;

use super::metrics;
use super::status::Status;

pub type Body = http_body_util::Full<Bytes>;

/// The paths served, for the 404 message and the deployment files' tests.
pub const PATHS: [&str; 5] = ["/livez", "/readyz", "/metrics", "/v1/status", "/v1/reload"];

/// The one path that takes POST.
pub const RELOAD: &str = "/v1/reload";

const TEXT: &str = "text/plain; charset=utf-8";
pub(super) const JSON: &str = "application/json";
/// The Prometheus text exposition format.
const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(super) fn answer(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut response = Response::new(Body::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// 431, for a head over the limits (hyper cuts off one far over them by itself).
pub fn too_large(why: String) -> Response<Body> {
    answer(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, TEXT, why + "\n")
}

/// True when the request carries `Authorization: Bearer <token>` (or no token is set).
fn authorized(parts: &Parts, token: Option<&str>) -> bool {
    let Some(token) = token else { return true };
    let Some(given) = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
    let Some((scheme, given)) = given.split_once(' ') else { return false };
    // Compared in time that does not depend on where the first difference is.
    scheme.eq_ignore_ascii_case("bearer")
        && given.len() == token.len()
        && given.bytes().zip(token.bytes()).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
}

/// What to do with one request.
pub enum Route {
    Answer(Response<Body>),
    /// An authorized `POST /v1/reload`.
    Reload,
}

/// The answer to one request.
pub fn route(status: &Status, token: Option<&str>, parts: &Parts) -> Route {
    let path = parts.uri.path();
    if !PATHS.contains(&path) {
        return Route::Answer(answer(
            StatusCode::NOT_FOUND,
            TEXT,
            format!("no endpoint {path}; this admin endpoint serves {}\n", PATHS.join(", ")),
        ));
    }
    let (method, allow) = if path == RELOAD { (Method::POST, "POST") } else { (Method::GET, "GET") };
    if parts.method != method {
        let mut response = answer(
            StatusCode::METHOD_NOT_ALLOWED,
            TEXT,
            format!("{path} answers {method} only, not {}\n", parts.method),
        );
        response.headers_mut().insert(ALLOW, HeaderValue::from_static(allow));
        return Route::Answer(response);
    }
    Route::Answer(match answer_get(status, token, parts) {
        Some(response) => response,
        None => return Route::Reload,
    })
}

/// The answer to a GET (or None for an authorized reload).
fn answer_get(status: &Status, token: Option<&str>, parts: &Parts) -> Option<Response<Body>> {
    let path = parts.uri.path();
    let authorized = authorized(parts, token);
    match path {
        // Probes need no secret: liveness says nothing, readiness only names what is not
        // ready (and why, to those with the token).
        "/livez" => Some(answer(StatusCode::OK, TEXT, "ok\n".into())),
        "/readyz" => {
            let mut not_ready = status.not_ready();
            let mut restarting = status.restarting();
            if !authorized {
                not_ready.iter_mut().chain(&mut restarting).for_each(|n| n.reason = None);
            }
            let mut body = if not_ready.is_empty() {
                json!({ "ready": true })
            } else {
                json!({ "ready": false, "state": status.phase(), "not_ready": not_ready })
            };
            if !restarting.is_empty() {
                body["restarting"] = json!(restarting);
            }
            if not_ready.is_empty() {
                return Some(answer(StatusCode::OK, JSON, body.to_string() + "\n"));
            }
            Some(answer(StatusCode::SERVICE_UNAVAILABLE, JSON, body.to_string() + "\n"))
        }
        _ if !authorized => {
            let mut response = answer(
                StatusCode::UNAUTHORIZED,
                TEXT,
                format!("{path} needs the admin token: send the header `Authorization: Bearer <[admin] token>`\n"),
            );
            response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            Some(response)
        }
        "/metrics" => Some(answer(StatusCode::OK, PROMETHEUS, metrics::render(status))),
        RELOAD => None,
        _ => Some(answer(StatusCode::OK, JSON, format!("{:#}\n", status.json()))),
    }
}
