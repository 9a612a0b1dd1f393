//! The `[admin]` table: where the admin endpoint (health, readiness, metrics, status)
//! listens, and the token it asks for. Off unless the table (or `evhost run --admin`) is
//! given.

use std::net::SocketAddr;

use toml::Spanned;

use super::model::AdminSection;
use super::Validator;
use crate::diagnostic::Diagnostic;

/// The admin endpoint's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    pub listen: SocketAddr,
    /// When set, `/metrics` and `/v1/status` answer 401 without `Authorization: Bearer
    /// <token>`; `/livez` and `/readyz` stay open for probes.
    pub token: Option<String>,
}

impl AdminConfig {
    /// Said once every instance was created, like the other warnings: an endpoint anyone on
    /// the network can read is allowed (a pod's port), but should be meant.
    pub fn warning(&self) -> Option<String> {
        (!self.listen.ip().is_loopback() && self.token.is_none()).then(|| {
            format!("the admin endpoint listens on {} without a token: anyone who can reach that address can read the metrics and status; add [admin] token = \"...\", or listen on 127.0.0.1", self.listen)
        })
    }
}

impl Validator {
    pub(super) fn admin(&self, raw: &Spanned<AdminSection>) -> Result<AdminConfig, Diagnostic> {
        let section = raw.get_ref();
        let Some(listen) = &section.listen else {
            return Err(Diagnostic::new("[admin] needs `listen`").at(Some(self.at(raw))).help(
                "add listen = \"127.0.0.1:9464\" (an IP address and a port), or remove [admin] to leave the endpoint off",
            ));
        };
        let listen = listen.get_ref().parse::<SocketAddr>().map_err(|_| {
            self.error(
                listen,
                format!("invalid admin `listen` \"{}\"", listen.get_ref()),
                "give an IP address and a port, e.g. listen = \"127.0.0.1:9464\" (this machine only) or \"0.0.0.0:9464\" (every interface, e.g. in a pod); host names are not resolved",
            )
        })?;
        let token = match &section.token {
            // A header value: visible ASCII, so that it can be sent as `Bearer <token>`.
            Some(token) if token.get_ref().is_empty() || !token.get_ref().bytes().all(|b| b.is_ascii_graphic()) => {
                return Err(self.error(
                    token,
                    "invalid admin `token`",
                    "give at least one character of visible ASCII (no spaces), e.g. the output of `openssl rand -hex 16`, or remove `token`",
                ))
            }
            Some(token) => Some(token.get_ref().clone()),
            None => None,
        };
        Ok(AdminConfig { listen, token })
    }
}
