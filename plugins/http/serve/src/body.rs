//! What a handler checks before and while it reads a request: the size of the head, and a
//! body bounded in bytes and in time.

use std::time::Duration;

use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::{Body, Bytes};
use hyper::header::CONTENT_LENGTH;
use hyper::http::request::Parts;

use crate::Limits;

/// Why a head is over the limits, for a 431; `None` when it is within them.
pub fn head_too_large(parts: &Parts, limits: &Limits) -> Option<String> {
    let count = parts.headers.len();
    if count > limits.max_headers {
        return Some(format!(
            "the request has {count} header fields, over the limit of {} (max_headers); send fewer",
            limits.max_headers
        ));
    }
    // As on the wire: "name: value\r\n" per field, and the request line.
    let bytes = parts.uri.to_string().len()
        + parts.method.as_str().len()
        + parts.headers.iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum::<usize>();
    (bytes > limits.max_header_bytes).then(|| {
        format!(
            "the request head is about {bytes} bytes, over the limit of {} (max_header_bytes); send smaller headers",
            limits.max_header_bytes
        )
    })
}

/// Why a body was not read.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Over `max` bytes (by its Content-Length, before anything was read, or as it came).
    TooLarge,
    /// Not complete within the body timeout.
    Timeout,
    /// The client broke the framing or the connection.
    Read(String),
}

/// The whole body, at most `max` bytes and within `timeout` of the call. A declared
/// Content-Length over `max` fails before a byte is read.
pub async fn read_body<B>(parts: &Parts, body: B, max: usize, timeout: Duration) -> Result<Bytes, BodyError>
where
    B: Body,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let declared = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(BodyError::TooLarge);
    }
    match tokio::time::timeout(timeout, Limited::new(body, max).collect()).await {
        Err(_) => Err(BodyError::Timeout),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(BodyError::TooLarge),
        Ok(Err(e)) => Err(BodyError::Read(e.to_string())),
    }
}
