//! The `config` table: `url`, `mode`, `headers`, `timeout`, `pool_size`, `keep_alive`,
//! `ca_file`, checked into `Settings`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use evhost_sdk::{units, Error};
use serde::Deserialize;

use crate::tls;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where to POST, `http://host:port/path` or `https://...`.
    url: Option<String>,
    /// "binary" (default), "structured" or "batched".
    mode: Option<String>,
    /// Extra headers on every request, e.g. `{ authorization = "Bearer ..." }`.
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// The limit for one request, connecting included: "5s", "500ms".
    timeout: Option<units::Duration>,
    /// Idle connections kept open for reuse.
    pool_size: Option<usize>,
    /// false: a new connection per request.
    keep_alive: Option<bool>,
    /// A PEM file of the CAs to trust for `https://` instead of the webpki roots.
    ca_file: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Binary,
    Structured,
    Batched,
}

#[derive(Debug)]
pub struct Settings {
    pub url: String,
    pub mode: Mode,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    /// Idle connections kept; 0 without keep-alive.
    pub pool_size: usize,
    /// For `https://` URLs only.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_POOL_SIZE: usize = 8;

impl Config {
    /// `resolve` makes a path from the config absolute (`Context::resolve`).
    pub fn check(self, resolve: impl Fn(&str) -> PathBuf) -> Result<Settings, Error> {
        let url = match self.url {
            Some(url) if !url.is_empty() => url,
            _ => {
                return Err(Error::config(
                    "`url` is required: where to POST events, e.g. url = \"http://127.0.0.1:8080/events\"",
                ))
            }
        };
        let https = url.starts_with("https://");
        if !https && !url.starts_with("http://") {
            return Err(Error::config(format!("`url` {url} is not an http:// or https:// URL")));
        }
        ureq::get(&url).request_url().map_err(|e| Error::config(format!("`url` {url} is not a valid URL: {e}")))?;
        let mode = match self.mode.as_deref() {
            None | Some("binary") => Mode::Binary,
            Some("structured") => Mode::Structured,
            Some("batched") => Mode::Batched,
            Some(other) => {
                return Err(Error::config(format!(
                    "`mode` is \"{other}\"; use \"binary\" (the default), \"structured\" or \"batched\""
                )))
            }
        };
        let mut headers = Vec::with_capacity(self.headers.len());
        for (name, value) in self.headers {
            check_header(&name, &value)?;
            headers.push((name, value));
        }
        let timeout = match self.timeout {
            None => DEFAULT_TIMEOUT,
            Some(written) => match written.get().map_err(|e| Error::config(e.for_key("timeout")))? {
                zero if zero.is_zero() => {
                    return Err(Error::config(format!(
                        "`timeout` = {written} must be above zero; use e.g. \"500ms\", \"5s\" or \"1m\""
                    )))
                }
                timeout => timeout,
            },
        };
        let pool_size = match (self.keep_alive, self.pool_size) {
            (Some(false), Some(_)) => {
                return Err(Error::config(
                    "`pool_size` needs keep-alive; drop one of `pool_size` and `keep_alive = false`",
                ))
            }
            (Some(false), None) => 0,
            (_, Some(0)) => {
                return Err(Error::config("`pool_size` must be at least 1; for no reuse, set keep_alive = false"))
            }
            (_, size) => size.unwrap_or(DEFAULT_POOL_SIZE),
        };
        let tls = match (https, self.ca_file) {
            (false, Some(_)) => {
                return Err(Error::config(format!(
                    "`ca_file` is for https:// URLs, and `url` {url} is http://; drop `ca_file` or post to https://"
                )))
            }
            (false, None) => None,
            (true, None) => Some(tls::client_config(None)?),
            (true, Some(path)) if path.is_empty() => return Err(Error::config(
                "`ca_file` is empty; name a PEM file with the CA's certificate, or drop it to trust the webpki roots",
            )),
            (true, Some(path)) => Some(tls::client_config(Some(&resolve(&path)))?),
        };
        Ok(Settings { url, mode, headers, timeout, pool_size, tls })
    }
}

/// Rejects headers the plugin sets itself and names or values HTTP cannot carry.
fn check_header(name: &str, value: &str) -> Result<(), Error> {
    const TOKEN: &str = "!#$%&'*+-.^_`|~";
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || TOKEN.contains(c)) {
        return Err(Error::config(format!("`headers`: \"{name}\" is not a valid header name")));
    }
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("ce-") || lower == "content-type" || lower == "content-length" {
        return Err(Error::config(format!("`headers`: \"{name}\" is set by the plugin from each event; remove it")));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(Error::config(format!("`headers`: the value of \"{name}\" contains a control character")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn check(json: &str) -> Result<Settings, String> {
        serde_json::from_str::<Config>(json)
            .unwrap()
            .check(|path| Path::new("/config/folder").join(path))
            .map_err(|e| e.message().to_owned())
    }

    #[test]
    fn defaults() {
        let settings = check(r#"{"url": "http://127.0.0.1:9/x"}"#).unwrap();
        assert_eq!(
            (settings.mode, settings.timeout, settings.pool_size),
            (Mode::Binary, DEFAULT_TIMEOUT, DEFAULT_POOL_SIZE)
        );
        let settings =
            check(r#"{"url": "http://h/", "timeout": "250ms", "keep_alive": false, "mode": "batched"}"#).unwrap();
        assert_eq!(
            (settings.mode, settings.timeout, settings.pool_size),
            (Mode::Batched, Duration::from_millis(250), 0)
        );
        assert!(settings.tls.is_none(), "no TLS config for http://");
        assert!(check(r#"{"url": "https://h/"}"#).unwrap().tls.is_some(), "the webpki roots for https://");
    }

    #[test]
    fn a_relative_ca_file_is_resolved_and_an_unreadable_one_named() {
        let error = check(r#"{"url": "https://h/", "ca_file": "ca.pem"}"#).unwrap_err();
        assert!(error.starts_with("`ca_file` /config/folder/ca.pem: cannot read it ("), "{error}");
        assert!(error.ends_with("set `ca_file` to a PEM file with the CA's certificate (-----BEGIN CERTIFICATE-----)"));
    }

    #[test]
    fn mistakes_are_named() {
        assert!(check("{}").unwrap_err().contains("`url` is required"));
        assert!(check(r#"{"url": "ftp://h/"}"#).unwrap_err().contains("not an http:// or https:// URL"));
        assert!(check(r#"{"url": "http://h/", "ca_file": "ca.pem"}"#).unwrap_err().contains("drop `ca_file`"));
        assert!(check(r#"{"url": "https://h/", "ca_file": ""}"#).unwrap_err().contains("`ca_file` is empty"));
        assert!(check(r#"{"url": "http://h/", "mode": "bulk"}"#).unwrap_err().contains("\"bulk\""));
        assert!(check(r#"{"url": "http://h/", "timeout": "5 parsecs"}"#).unwrap_err().contains("`timeout`"));
        assert!(check(r#"{"url": "http://h/", "headers": {"ce-id": "x"}}"#).unwrap_err().contains("set by the plugin"));
        assert!(check(r#"{"url": "http://h/", "headers": {"bad name": "x"}}"#)
            .unwrap_err()
            .contains("not a valid header name"));
    }
}
