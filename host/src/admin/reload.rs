//! `POST /v1/reload`: hands the request to the run loop, which runs reloads one at a time
//! in the order they came, and answers with what it did: 200 and a summary, 422 and the
//! diagnostic of a config that was refused, 503 when the host is stopping.

use hyper::{Response, StatusCode};
use serde_json::json;
use tokio::sync::oneshot;

use super::routes::{answer, Body, JSON};

/// Why a reload changed nothing: the message, and the whole diagnostic as the log has it.
#[derive(Debug, Clone)]
pub struct Refused {
    pub message: String,
    pub diagnostic: String,
}

/// What a reload did (a JSON summary), or why it did nothing.
pub type Outcome = Result<serde_json::Value, Refused>;

/// Where the run loop sends a reload's outcome.
pub type Reply = oneshot::Sender<Outcome>;

/// Queues a reload whose outcome goes to the reply.
pub type Reloader = Box<dyn Fn(Reply) + Send + Sync>;

/// Queues a reload and waits for its outcome.
pub async fn answer_reload(reloader: &Reloader) -> Response<Body> {
    let (reply, outcome) = oneshot::channel();
    reloader(reply);
    match outcome.await {
        Ok(Ok(summary)) => answer(StatusCode::OK, JSON, format!("{summary:#}\n")),
        Ok(Err(refused)) => {
            let body = json!({ "reloaded": false, "error": refused.message, "diagnostic": refused.diagnostic });
            answer(StatusCode::UNPROCESSABLE_ENTITY, JSON, format!("{body:#}\n"))
        }
        // The run loop ended before it got to it.
        Err(_) => {
            let body = json!({ "reloaded": false, "error": "the host is stopping; the reload was not run" });
            answer(StatusCode::SERVICE_UNAVAILABLE, JSON, format!("{body:#}\n"))
        }
    }
}
