//! What both plugins do first: a tokio runtime of their own, a connection that reconnects
//! by itself, and the stream looked up (or created) within a short time, so that
//! `evhost check` reports an unreachable server or a missing stream as a config error.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::context::{Context as JetStream, GetStreamErrorKind};
use async_nats::jetstream::stream::{Config as StreamConfig, Stream};
use async_nats::jetstream::ErrorCode;
use async_nats::{Client, ConnectErrorKind};
use evhost_sdk::Error;
use tokio::runtime::Runtime;

/// One worker thread: it keeps the connection alive (pings, reconnects) between the host's
/// calls, and parks when there is nothing to do.
pub fn runtime(name: &str) -> Result<Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(format!("evh-{name}"))
        .enable_all()
        .build()
        .map_err(|e| Error::new(format!("cannot start the tokio runtime: {e}")))
}

/// Runs `future` (connect, then JetStream requests) on `runtime`, failing with a config
/// error naming `what` after twice `connect_timeout`: the connection alone has one
/// `connect_timeout`, and fails with its own, more precise message.
pub fn within<T>(
    runtime: &Runtime,
    connect_timeout: Duration,
    what: impl FnOnce() -> String,
    future: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let limit = connect_timeout * 2;
    runtime.block_on(async {
        tokio::time::timeout(limit, future)
            .await
            .unwrap_or_else(|_| Err(Error::config(format!("{} did not answer within {limit:?} (twice `connect_timeout`); check that the server runs and JetStream is enabled (`nats-server -js`)", what()))))
    })
}

/// Connects to `url` (one server, or several separated by commas: the client picks one and
/// moves to another when it goes away). After this first connection the client reconnects
/// by itself, for as long as the instance lives.
pub async fn connect(url: &str, name: &str, timeout: Duration) -> Result<Client, Error> {
    let servers: Vec<&str> = url.split(',').map(str::trim).collect();
    async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(timeout)
        .connect(servers)
        .await
        .map_err(|e| {
            let fix = match e.kind() {
                ConnectErrorKind::ServerParse => "write `url` as nats://host:port, e.g. \"nats://127.0.0.1:4222\"",
                ConnectErrorKind::Authentication | ConnectErrorKind::AuthorizationViolation => {
                    "check the user and password or token in `url` (nats://user:password@host:port)"
                }
                ConnectErrorKind::TimedOut => {
                    "something listens there but did not complete the NATS handshake within `connect_timeout`: check that `url` names a NATS server, or raise `connect_timeout` for a slow network"
                }
                _ => "start a NATS server there (`make services` starts one on 127.0.0.1:4222) or fix `url`",
            };
            Error::config(format!("cannot connect to {url}: {e}; {fix}"))
        })
}

/// The stream `name`: looked up, or created to capture `subjects` when `create` says so
/// and it is missing.
pub async fn stream(js: &JetStream, url: &str, name: &str, create: Option<Vec<String>>) -> Result<Stream, Error> {
    match js.get_stream(name).await {
        Ok(stream) => Ok(stream),
        Err(e) => match e.kind() {
            GetStreamErrorKind::JetStream(inner) if inner.error_code() == ErrorCode::STREAM_NOT_FOUND => match create {
                Some(subjects) => {
                    let config = StreamConfig { name: name.to_owned(), subjects: subjects.clone(), ..Default::default() };
                    js.get_or_create_stream(config).await.map_err(|e| {
                        Error::config(format!("cannot create stream {name:?} with subjects {subjects:?} on {url}: {e}; another stream may already capture those subjects"))
                    })
                }
                None => Err(Error::config(format!(
                    "stream {name:?} does not exist on {url}; create it (`nats stream add {name} --subjects 'events.>'`), or set `create_stream = true` to have it created"
                ))),
            },
            _ => Err(Error::config(format!(
                "cannot look up stream {name:?} on {url}: {e}; is JetStream enabled on that server (`nats-server -js`)?"
            ))),
        },
    }
}
