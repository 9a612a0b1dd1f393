//! The `config` table: what users write (`Config`), checked once into what the server uses
//! (`Settings`). Every error says which key is wrong and how to write it.

use axum::http::Method;
use evhost_http_serve::{count_key, duration_key, Limits};
use evhost_sdk::units::{Duration, Size};
use evhost_sdk::Error;
use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_TYPE: &str = "dev.evhost.http.request";
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    listen: String,
    #[serde(default = "default_type", rename = "type")]
    ty: String,
    #[serde(default)]
    max_body_bytes: Option<Size>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    methods: Option<Vec<String>>,
    header_timeout: Option<Duration>,
    body_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    max_connections: Option<u64>,
    max_headers: Option<u64>,
    max_header_bytes: Option<u64>,
}

/// The most `max_connections` accepted: each is a file descriptor.
const MOST_CONNECTIONS: usize = 65536;
/// The most `max_headers` accepted; hyper holds room for this many times `HARD_FACTOR`.
const MOST_HEADERS: usize = 4096;
/// The most `max_header_bytes` accepted; hyper buffers up to this times `HARD_FACTOR`.
const MOST_HEADER_BYTES: usize = 1 << 20;

fn default_listen() -> String {
    DEFAULT_LISTEN.to_owned()
}

fn default_type() -> String {
    DEFAULT_TYPE.to_owned()
}

/// The checked configuration.
#[derive(Debug)]
pub struct Settings {
    pub listen: String,
    pub ty: String,
    pub max_body_bytes: usize,
    pub token: Option<String>,
    pub methods: Vec<Method>,
    /// `methods` joined for the `Allow` header of a 405.
    pub allow: String,
    pub limits: Limits,
}

impl Config {
    pub fn check(self) -> Result<Settings, Error> {
        if self.ty.is_empty() {
            return Err(Error::config(format!(
                "config: `type` must not be empty; leave it out for \"{DEFAULT_TYPE}\""
            )));
        }
        let max_body_bytes = match self.max_body_bytes.as_ref().map(Size::bytes).transpose() {
            Err(e) => return Err(Error::config(format!("config: {}", e.for_key("max_body_bytes")))),
            Ok(None) => DEFAULT_MAX_BODY_BYTES,
            Ok(Some(0)) => {
                return Err(Error::config("config: `max_body_bytes` must be at least 1, e.g. 1048576 or \"1MiB\""))
            }
            Ok(Some(n)) => usize::try_from(n)
                .map_err(|_| Error::config(format!("config: `max_body_bytes` = {n} is too large for this machine")))?,
        };
        if self.token.as_deref() == Some("") {
            return Err(Error::config(
                "config: `token` must not be empty; leave it out to accept requests without one",
            ));
        }
        let names = self.methods.unwrap_or_else(|| vec!["POST".into(), "PUT".into()]);
        if names.is_empty() {
            return Err(Error::config("config: `methods` must name at least one method, e.g. [\"POST\"]"));
        }
        let mut methods: Vec<Method> = Vec::with_capacity(names.len());
        for name in &names {
            // HTTP methods are case-sensitive and conventionally upper case; "post" means POST.
            let method = Method::from_bytes(name.to_ascii_uppercase().as_bytes()).map_err(|_| {
                Error::config(format!(
                    "config: `methods` has {name:?}, which is not an HTTP method; write e.g. [\"POST\", \"PUT\"]"
                ))
            })?;
            if !methods.contains(&method) {
                methods.push(method);
            }
        }
        let allow = methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
        let limits = limits(
            &self.header_timeout,
            &self.body_timeout,
            &self.idle_timeout,
            self.max_connections,
            self.max_headers,
            self.max_header_bytes,
        )
        .map_err(|reason| Error::config(format!("config: {reason}")))?;
        Ok(Settings { listen: self.listen, ty: self.ty, max_body_bytes, token: self.token, methods, allow, limits })
    }
}

fn limits(
    header_timeout: &Option<Duration>,
    body_timeout: &Option<Duration>,
    idle_timeout: &Option<Duration>,
    max_connections: Option<u64>,
    max_headers: Option<u64>,
    max_header_bytes: Option<u64>,
) -> Result<Limits, String> {
    let default = Limits::default();
    Ok(Limits {
        header_timeout: duration_key("header_timeout", header_timeout.as_ref(), default.header_timeout)?,
        body_timeout: duration_key("body_timeout", body_timeout.as_ref(), default.body_timeout)?,
        idle_timeout: duration_key("idle_timeout", idle_timeout.as_ref(), default.idle_timeout)?,
        max_connections: count_key("max_connections", max_connections, default.max_connections, MOST_CONNECTIONS)?,
        max_headers: count_key("max_headers", max_headers, default.max_headers, MOST_HEADERS)?,
        max_header_bytes: count_key("max_header_bytes", max_header_bytes, default.max_header_bytes, MOST_HEADER_BYTES)?,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn check(json: &str) -> Result<Settings, String> {
        let config: Config = serde_json::from_str(json).map_err(|e| e.to_string())?;
        config.check().map_err(|e| e.message().to_owned())
    }

    #[test]
    fn defaults() {
        let settings = check("{}").unwrap();
        assert_eq!(settings.listen, "127.0.0.1:8080");
        assert_eq!(settings.ty, DEFAULT_TYPE);
        assert_eq!(settings.max_body_bytes, 1 << 20);
        assert_eq!(settings.allow, "POST, PUT");
        assert!(settings.token.is_none());
        assert_eq!(settings.limits, Limits::default());
    }

    #[test]
    fn limits() {
        let settings = check(r#"{"header_timeout": "500ms", "body_timeout": "2s", "idle_timeout": "1m", "max_connections": 10, "max_headers": 20, "max_header_bytes": 4096}"#).unwrap();
        let limits = settings.limits;
        assert_eq!(
            (limits.header_timeout, limits.body_timeout, limits.idle_timeout),
            (Duration::from_millis(500), Duration::from_secs(2), Duration::from_secs(60))
        );
        assert_eq!((limits.max_connections, limits.max_headers, limits.max_header_bytes), (10, 20, 4096));
    }

    #[test]
    fn sizes_and_methods() {
        assert_eq!(check(r#"{"max_body_bytes": "64KiB"}"#).unwrap().max_body_bytes, 65536);
        assert_eq!(check(r#"{"max_body_bytes": 10}"#).unwrap().max_body_bytes, 10);
        assert_eq!(check(r#"{"methods": ["post", "PATCH", "POST"]}"#).unwrap().allow, "POST, PATCH");
    }

    #[test]
    fn errors_name_the_key() {
        assert!(check(r#"{"max_body_bytes": 0}"#).unwrap_err().contains("at least 1"));
        assert!(check(r#"{"max_body_bytes": -1}"#).unwrap_err().contains("negative"));
        assert!(check(r#"{"max_body_bytes": "lots"}"#).unwrap_err().contains("not a size"));
        assert!(check(r#"{"max_body_bytes": "1 TiB"}"#).unwrap_err().contains("no known unit"));
        assert!(check(r#"{"methods": []}"#).unwrap_err().contains("at least one"));
        assert!(check(r#"{"methods": ["GET POST"]}"#).unwrap_err().contains("not an HTTP method"));
        assert!(check(r#"{"token": ""}"#).unwrap_err().contains("`token`"));
        assert!(check(r#"{"type": ""}"#).unwrap_err().contains("`type`"));
        assert!(check(r#"{"methods": [""]}"#).unwrap_err().contains("not an HTTP method"));
        assert!(check(r#"{"lisen": "x"}"#).unwrap_err().contains("unknown field `lisen`"));
        assert!(check(r#"{"header_timeout": "10"}"#).unwrap_err().contains("`header_timeout` = \"10\" has no unit"));
        assert!(check(r#"{"idle_timeout": "0ms"}"#).unwrap_err().contains("shorter than 1ms"));
        assert!(check(r#"{"max_connections": 0}"#)
            .unwrap_err()
            .contains("`max_connections` = 0 must be between 1 and"));
        assert!(check(r#"{"max_headers": 100000}"#).unwrap_err().contains("`max_headers`"));
    }
}
