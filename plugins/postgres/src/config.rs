//! The `config` table, checked into `Settings`: the connection, the slot and publication
//! (replication mode) or the channels (listen mode), and the timings.

use std::str::FromStr;
use std::time::Duration;

use evhost_sdk::{units, Error};
use serde::Deserialize;
use tokio_postgres::config::Host;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `postgres://user:password@host:port/database`.
    url: Option<String>,
    /// "replication" (default) or "listen".
    mode: Option<String>,
    slot: Option<String>,
    publication: Option<String>,
    /// Tables for the publication when it is missing: "orders", "shop.orders".
    tables: Option<Vec<String>>,
    /// listen mode: the channels to LISTEN on.
    channels: Option<Vec<String>>,
    /// The largest emit, in events.
    batch: Option<usize>,
    /// How often the slot's position is reported while the stream is quiet.
    heartbeat: Option<units::Duration>,
    connect_timeout: Option<units::Duration>,
}

pub const DEFAULT_URL: &str = "postgres://evhost:evhost@127.0.0.1:5432/evhost";
const DEFAULT_BATCH: usize = 16384;
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(10);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub enum Mode {
    Replication { slot: String, publication: String, tables: Vec<String> },
    Listen { channels: Vec<String> },
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub pg: tokio_postgres::Config,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: String,
    pub mode: Mode,
    pub batch: usize,
    pub heartbeat: Duration,
}

impl Settings {
    /// Where we connect, for messages: never the password.
    pub fn server(&self) -> String {
        format!("{}:{} (database `{}`, user `{}`)", self.host, self.port, self.database, self.user)
    }
}

impl Config {
    pub fn check(self) -> Result<Settings, Error> {
        let url = self.url.unwrap_or_else(|| DEFAULT_URL.to_owned());
        let mut pg = tokio_postgres::Config::from_str(&url).map_err(|e| {
            Error::config(format!(
                "`url` is not a PostgreSQL URL ({e}); write postgres://user:password@host:port/database, e.g. {DEFAULT_URL:?}"
            ))
        })?;
        let host = match pg.get_hosts() {
            [Host::Tcp(host)] => host.clone(),
            [] => "127.0.0.1".to_owned(),
            _ => {
                return Err(Error::config(
                    "`url` must name one TCP host (host:port); Unix sockets and host lists are not supported",
                ))
            }
        };
        let port = pg.get_ports().first().copied().unwrap_or(5432);
        let user = pg.get_user().unwrap_or("postgres").to_owned();
        let password = pg.get_password().map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default();
        let database = pg.get_dbname().unwrap_or(&user).to_owned();
        let connect_timeout = duration(self.connect_timeout, "connect_timeout", DEFAULT_CONNECT_TIMEOUT)?;
        pg.host(&host).port(port).user(&user).dbname(&database).connect_timeout(connect_timeout);
        pg.application_name("evhost");

        let mode = match self.mode.as_deref() {
            None | Some("replication") => {
                if self.channels.is_some() {
                    return Err(Error::config("`channels` is for mode = \"listen\"; remove it, or set mode = \"listen\""));
                }
                let slot = name(self.slot, "slot")?;
                let publication = name(self.publication, "publication")?;
                let tables = self.tables.unwrap_or_default();
                if let Some(bad) = tables.iter().find(|t| t.is_empty() || t.split('.').count() > 2) {
                    return Err(Error::config(format!(
                        "`tables` has {bad:?}; write a table as \"name\" or \"schema.name\""
                    )));
                }
                Mode::Replication { slot, publication, tables }
            }
            Some("listen") => {
                if self.slot.is_some() || self.publication.is_some() || self.tables.is_some() {
                    return Err(Error::config(
                        "`slot`, `publication` and `tables` are for mode = \"replication\"; remove them in listen mode",
                    ));
                }
                let channels = self.channels.unwrap_or_default();
                if channels.is_empty() || channels.iter().any(String::is_empty) {
                    return Err(Error::config(
                        "mode = \"listen\" needs `channels`, the channels to LISTEN on, e.g. channels = [\"orders\"]",
                    ));
                }
                Mode::Listen { channels }
            }
            Some(other) => {
                return Err(Error::config(format!(
                    "`mode` is {other:?}; use \"replication\" (the default: row changes from a slot) or \"listen\" (LISTEN/NOTIFY)"
                )))
            }
        };
        let batch = self.batch.unwrap_or(DEFAULT_BATCH);
        if batch == 0 {
            return Err(Error::config("`batch` is 0; it is the largest emit in events, e.g. 16384"));
        }
        let heartbeat = duration(self.heartbeat, "heartbeat", DEFAULT_HEARTBEAT)?;
        if heartbeat.is_zero() {
            return Err(Error::config("`heartbeat` is 0; write how often to report the slot's position, e.g. \"10s\""));
        }
        Ok(Settings { pg, host, port, user, password, database, mode, batch, heartbeat })
    }
}

fn duration(value: Option<units::Duration>, key: &str, default: Duration) -> Result<Duration, Error> {
    match value {
        None => Ok(default),
        Some(d) => d.get().map_err(|e| Error::config(e.for_key(key))),
    }
}

/// A slot or publication name: PostgreSQL allows lower-case letters, digits and `_` for
/// slots, and we hold publications to the same so that neither needs quoting.
fn name(value: Option<String>, key: &str) -> Result<String, Error> {
    let value = value.unwrap_or_else(|| "evhost".to_owned());
    let ok = !value.is_empty()
        && value.len() <= 63
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(value)
    } else {
        Err(Error::config(format!(
            "`{key}` is {value:?}; use 1 to 63 lower-case letters, digits and `_`, e.g. \"evhost\""
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> Result<Settings, String> {
        let config: Config = serde_json::from_str(json).map_err(|e| e.to_string())?;
        config.check().map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_match_make_services() {
        let s = check("{}").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.user.as_str(), s.database.as_str()),
            ("127.0.0.1", 5432, "evhost", "evhost")
        );
        assert_eq!(s.password, "evhost");
        assert!(
            matches!(s.mode, Mode::Replication { ref slot, ref publication, .. } if slot == "evhost" && publication == "evhost")
        );
        assert_eq!((s.batch, s.heartbeat), (16384, Duration::from_secs(10)));
    }

    #[test]
    fn bad_values_say_what_to_write() {
        let cases = [
            (r#"{"mode": "poll"}"#, "use \"replication\""),
            (r#"{"slot": "My-Slot"}"#, "lower-case letters"),
            (r#"{"channels": ["a"]}"#, "for mode = \"listen\""),
            (r#"{"mode": "listen"}"#, "needs `channels`"),
            (r#"{"mode": "listen", "channels": ["a"], "slot": "x"}"#, "remove them in listen mode"),
            (r#"{"batch": 0}"#, "`batch` is 0"),
            (r#"{"heartbeat": 5}"#, "heartbeat"),
            (r#"{"tables": ["a.b.c"]}"#, "\"schema.name\""),
            (r#"{"url": "mysql://x"}"#, "not a PostgreSQL URL"),
        ];
        for (json, expected) in cases {
            let error = check(json).err().unwrap_or_else(|| panic!("{json} was accepted"));
            assert!(error.contains(expected), "{json}: {error}");
        }
    }
}
