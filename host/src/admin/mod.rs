//! The admin endpoint (`[admin] listen`, or `evhost run --admin ADDR`): `/livez`,
//! `/readyz`, `/metrics` (Prometheus), `/v1/status` (JSON) and `POST /v1/reload`, for the
//! people who run evhost as a sidecar. Off unless configured.
//!
//! It runs on a thread of its own with a small current-thread tokio runtime, on the same
//! bounded HTTP/1 server as the `http` plugin (timeouts, a connection limit, bounded heads),
//! so a scraper or a hostile client never touches the data path. It starts before any
//! instance is created, so `/livez` answers and `/readyz` says why it is not ready while a
//! slow `on_create` runs. An idle endpoint sleeps in epoll.

mod metrics;
pub mod reload;
pub mod routes;
pub mod status;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use evhost_http_serve::Limits;
use tokio::sync::oneshot;

use crate::config::AdminConfig;
use crate::diagnostic::Diagnostic;
pub use reload::{Refused, Reloader, Reply};
pub use status::{State, Status};

/// How long requests in flight may take to finish once the host stops.
const GRACE: Duration = Duration::from_secs(1);

/// A scraper and a few probes and curls: a handful of connections is plenty, and bounds
/// what a client that holds them open can cost.
const MAX_CONNECTIONS: usize = 16;

/// The ABI version the host speaks, as `evhost_build_info` and `/v1/status` give it.
pub fn abi_version() -> String {
    format!("{}.{}", evhost_abi::EVH_ABI_VERSION_MAJOR, evhost_abi::EVH_ABI_VERSION_MINOR)
}

/// The running endpoint; dropping it stops it.
pub struct Admin {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Admin {
    /// Listens on `config.listen` and serves `status` from a thread of its own; reloads go to
    /// `reloader`. A port that cannot be had is a setup error: the operator asked for the
    /// endpoint.
    pub fn start(config: &AdminConfig, status: Arc<Status>, reloader: Reloader) -> Result<Admin, Diagnostic> {
        let listen = config.listen;
        let listener = std::net::TcpListener::bind(listen)
            .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
            .map_err(|e| {
                let help = match e.kind() {
                    std::io::ErrorKind::AddrInUse => {
                        "another process listens there: stop it, or give [admin] listen (or --admin) another port"
                            .to_string()
                    }
                    std::io::ErrorKind::PermissionDenied => {
                        "ports below 1024 need privileges: use a higher port, e.g. 9464".to_string()
                    }
                    _ => format!(
                        "give [admin] listen (or --admin) an address of this machine, e.g. 127.0.0.1:{}",
                        listen.port()
                    ),
                };
                Diagnostic::new(format!("cannot listen on {listen} for the admin endpoint: {e}")).help(help)
            })?;
        let addr = listener.local_addr().unwrap_or(listen);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| Diagnostic::new(format!("cannot start the admin endpoint's runtime: {e}")))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let token: Option<Arc<str>> = config.token.as_deref().map(Arc::from);
        let limits = Limits { max_connections: MAX_CONNECTIONS, ..Limits::default() };
        let reloader = Arc::new(reloader);
        let thread = std::thread::Builder::new()
            .name("admin".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(e) => return tracing::error!("the admin endpoint cannot serve on {addr}: {e}"),
                    };
                    let handler = {
                        let limits = limits.clone();
                        move |request: hyper::Request<hyper::body::Incoming>| {
                            let (parts, _body) = request.into_parts();
                            let route = match evhost_http_serve::head_too_large(&parts, &limits) {
                                Some(why) => routes::Route::Answer(routes::too_large(why)),
                                None => routes::route(&status, token.as_deref(), &parts),
                            };
                            let reloader = reloader.clone();
                            async move {
                                match route {
                                    routes::Route::Answer(response) => response,
                                    routes::Route::Reload => reload::answer_reload(&reloader).await,
                                }
                            }
                        }
                    };
                    let warn = |message: String| tracing::warn!("admin endpoint: {message}");
                    let stop = async move {
                        let _ = stopped.await;
                    };
                    evhost_http_serve::serve(listener, limits, &warn, handler, stop, GRACE).await;
                });
            })
            .map_err(|e| Diagnostic::new(format!("cannot start the admin endpoint's thread: {e}")))?;
        tracing::info!("admin endpoint on http://{addr} (/livez, /readyz, /metrics, /v1/status, POST /v1/reload)");
        Ok(Admin { addr, stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for Admin {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
