//! The `webhook` consumer: sends each batch (or each event of it) and maps the HTTP answer
//! to a `Delivery`.

use std::io::Read;

use evhost_sdk::{Batch, Consumer, Context, Delivery, Error};

use crate::config::{Config, Mode, Settings};
use crate::request::{self, Outgoing};
use crate::tls;

/// How much of an error response's body goes into the reason, for the host's log.
const REASON_BODY_CHARS: usize = 200;
/// Up to this much of a response is read, so its connection can go back to the pool.
const DRAIN_BYTES: u64 = 64 * 1024;

pub struct Webhook {
    agent: ureq::Agent,
    settings: Settings,
}

/// Why a request did not succeed, and whether trying again can help.
enum Failure {
    Retry(String),
    Fail(String),
}

impl Failure {
    fn delivery(self, handled: usize) -> Delivery {
        match self {
            Failure::Retry(reason) => Delivery::retry(handled, reason),
            Failure::Fail(reason) => Delivery::fail(handled, reason),
        }
    }
}

impl Consumer for Webhook {
    const NAME: &'static str = "webhook";
    const DESCRIPTION: &'static str =
        "POSTs events to a URL (CloudEvents HTTP binding: binary, structured or batched mode)";
    type Config = Config;

    fn create(ctx: Context, config: Config) -> Result<Self, Error> {
        let settings = config.check(|path| ctx.resolve(path))?;
        let mut agent = ureq::AgentBuilder::new();
        if let Some(tls) = &settings.tls {
            agent = agent.tls_config(tls.clone());
        }
        let agent = agent
            .timeout(settings.timeout)
            .max_idle_connections(settings.pool_size)
            .max_idle_connections_per_host(settings.pool_size)
            // A redirected POST would silently become a GET or be replayed; report it instead.
            .redirects(0)
            .user_agent(concat!("evhost-webhook/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Webhook { agent, settings })
    }

    fn on_events(&mut self, batch: &Batch<'_>) -> Delivery {
        match self.settings.mode {
            Mode::Batched => match self.post(request::batched(batch)) {
                Ok(()) => Delivery::Ok,
                Err(failure) => failure.delivery(0),
            },
            mode => {
                for (i, event) in batch.iter().enumerate() {
                    let outgoing =
                        if mode == Mode::Binary { request::binary(event) } else { request::structured(event) };
                    if let Err(failure) = self.post(outgoing) {
                        return failure.delivery(i);
                    }
                }
                Delivery::Ok
            }
        }
    }
}

impl Webhook {
    fn post(&self, outgoing: Outgoing) -> Result<(), Failure> {
        let url = &self.settings.url;
        let mut request = self.agent.post(url);
        for (name, value) in self.settings.headers.iter().chain(&outgoing.headers) {
            request = request.set(name, value);
        }
        match request.send_bytes(&outgoing.body) {
            Ok(response) => {
                let status = response.status();
                drain(response);
                if (200..300).contains(&status) {
                    Ok(())
                } else {
                    Err(Failure::Fail(format!("POST {url}: HTTP {status}, expected 2xx (redirects are not followed)")))
                }
            }
            Err(ureq::Error::Status(status, response)) => {
                let reason = format!("POST {url}: HTTP {status}{}", body_excerpt(response));
                if status == 408 || status == 429 || status >= 500 {
                    Err(Failure::Retry(reason))
                } else {
                    Err(Failure::Fail(reason))
                }
            }
            Err(ureq::Error::Transport(transport)) => {
                let reason = match tls::certificate_hint(&transport) {
                    Some(hint) => format!("POST {url}: {transport}; {hint}"),
                    None => format!("POST {url}: {transport}"),
                };
                match transport.kind() {
                    // The request itself is wrong (an event's attribute cannot be a header,
                    // say): sending it again cannot help.
                    ureq::ErrorKind::InvalidUrl | ureq::ErrorKind::UnknownScheme | ureq::ErrorKind::BadHeader => {
                        Err(Failure::Fail(reason))
                    }
                    _ => Err(Failure::Retry(reason)),
                }
            }
        }
    }
}

/// Reads the rest of a response so the agent can reuse its connection.
fn drain(response: ureq::Response) {
    let _ = std::io::copy(&mut response.into_reader().take(DRAIN_BYTES), &mut std::io::sink());
}

/// `": <the start of the body>"`, or nothing for an empty or unreadable body.
fn body_excerpt(response: ureq::Response) -> String {
    let mut body = Vec::new();
    let _ = response.into_reader().take(DRAIN_BYTES).read_to_end(&mut body);
    let text = String::from_utf8_lossy(&body);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let excerpt: String = text.chars().take(REASON_BODY_CHARS).collect();
    let ellipsis = if excerpt.len() < text.len() { "…" } else { "" };
    format!(": {excerpt}{ellipsis}")
}
