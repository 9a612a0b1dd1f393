//! The `config` tables of both plugins: what users write (`SubscribeConfig`,
//! `PublishConfig`), checked once into what the plugins use. Every error names the key and
//! says how to write it.

use std::time::Duration;

use evhost_sdk::units::Duration as WrittenDuration;
use evhost_sdk::Error;
use serde::Deserialize;

use crate::subject::Template;

pub const DEFAULT_URL: &str = "nats://127.0.0.1:4222";
pub const DEFAULT_SUBJECT: &str = "events.{type}";
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);
const DEFAULT_PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_MAX_ACK_PENDING: u64 = 20_000;
const DEFAULT_BATCH: u64 = 256;

fn default_url() -> String {
    DEFAULT_URL.to_owned()
}

fn default_subject() -> String {
    DEFAULT_SUBJECT.to_owned()
}

fn yes() -> bool {
    true
}

/// `nats-subscribe`'s config table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeConfig {
    #[serde(default = "default_url")]
    url: String,
    stream: Option<String>,
    #[serde(default)]
    subjects: Vec<String>,
    durable: Option<String>,
    #[serde(default = "yes")]
    jetstream: bool,
    #[serde(default)]
    create_stream: bool,
    ack_wait: Option<WrittenDuration>,
    max_ack_pending: Option<u64>,
    batch: Option<u64>,
    connect_timeout: Option<WrittenDuration>,
}

/// Where `nats-subscribe` reads.
#[derive(Debug)]
pub enum Source {
    /// A durable pull consumer on a stream.
    JetStream { stream: String, durable: String, create_stream: bool, ack_wait: Duration, max_ack_pending: i64 },
    /// Core NATS subscriptions, in the queue group `durable` when given.
    Core { queue: Option<String> },
}

/// `nats-subscribe`, checked.
#[derive(Debug)]
pub struct SubscribeSettings {
    pub url: String,
    pub subjects: Vec<String>,
    pub source: Source,
    pub batch: usize,
    pub connect_timeout: Duration,
}

impl SubscribeConfig {
    pub fn check(self) -> Result<SubscribeSettings, Error> {
        let connect_timeout = duration("connect_timeout", self.connect_timeout.as_ref(), DEFAULT_CONNECT_TIMEOUT)?;
        let batch = self.batch.unwrap_or(DEFAULT_BATCH);
        if !(1..=10_000).contains(&batch) {
            return Err(Error::config(format!(
                "config: `batch` = {batch} must be from 1 to 10000 (messages per emit)"
            )));
        }
        for subject in &self.subjects {
            check_subject(subject, true)
                .map_err(|why| Error::config(format!("config: `subjects` has {subject:?}: {why}")))?;
        }
        if let Some(durable) = &self.durable {
            if durable.is_empty() || durable.contains(['.', '*', '>', ' ', '\t']) {
                return Err(Error::config(format!(
                    "config: `durable` = {durable:?} is not a consumer name; use letters, digits, `-` and `_`, e.g. \"functions\""
                )));
            }
        }
        let source = if self.jetstream {
            let stream = required_stream(self.stream, "a JetStream consumer reads a stream")?;
            let durable = self.durable.ok_or_else(|| {
                Error::config("config: `durable` is required: name the consumer, e.g. \"functions\"; hosts that share a name split the stream's messages, hosts with different names each get every message")
            })?;
            if self.create_stream && self.subjects.is_empty() {
                return Err(Error::config(
                    "config: `create_stream` needs `subjects`: the subjects the new stream captures, e.g. [\"events.>\"]",
                ));
            }
            let ack_wait = duration("ack_wait", self.ack_wait.as_ref(), DEFAULT_ACK_WAIT)?;
            let max_ack_pending = self.max_ack_pending.unwrap_or(DEFAULT_MAX_ACK_PENDING);
            if max_ack_pending < batch || max_ack_pending > i64::MAX as u64 {
                return Err(Error::config(format!(
                    "config: `max_ack_pending` = {max_ack_pending} must be at least `batch` ({batch}): messages wait for their commit before they are acknowledged"
                )));
            }
            Source::JetStream {
                stream,
                durable,
                create_stream: self.create_stream,
                ack_wait,
                max_ack_pending: max_ack_pending as i64,
            }
        } else {
            let unused = [
                ("stream", self.stream.is_some()),
                ("create_stream", self.create_stream),
                ("ack_wait", self.ack_wait.is_some()),
                ("max_ack_pending", self.max_ack_pending.is_some()),
            ];
            if let Some((key, _)) = unused.iter().find(|(_, given)| *given) {
                return Err(Error::config(format!(
                    "config: `{key}` is for JetStream, and `jetstream = false` reads core NATS subjects; remove `{key}`, or remove `jetstream = false`"
                )));
            }
            if self.subjects.is_empty() {
                return Err(Error::config("config: `subjects` is required with `jetstream = false`: the subjects to subscribe to, e.g. [\"events.>\"]"));
            }
            Source::Core { queue: self.durable }
        };
        Ok(SubscribeSettings { url: self.url, subjects: self.subjects, source, batch: batch as usize, connect_timeout })
    }
}

/// `nats-publish`'s config table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishConfig {
    #[serde(default = "default_url")]
    url: String,
    #[serde(default = "default_subject")]
    subject: String,
    #[serde(default)]
    mode: Mode,
    stream: Option<String>,
    #[serde(default)]
    create_stream: bool,
    #[serde(default = "yes")]
    jetstream: bool,
    timeout: Option<WrittenDuration>,
    connect_timeout: Option<WrittenDuration>,
}

/// How an event travels in a NATS message (the CloudEvents NATS protocol binding).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Attributes in `ce-*` headers, the data as the payload.
    #[default]
    Binary,
    /// The whole event as CloudEvents JSON (`application/cloudevents+json`).
    Structured,
}

/// `nats-publish`, checked.
#[derive(Debug)]
pub struct PublishSettings {
    pub url: String,
    pub subject: Template,
    pub mode: Mode,
    /// The stream to check for, or create, at start; and whether to create it.
    pub stream: Option<(String, bool)>,
    pub jetstream: bool,
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl PublishConfig {
    pub fn check(self) -> Result<PublishSettings, Error> {
        let subject = Template::parse(&self.subject)
            .map_err(|why| Error::config(format!("config: `subject` = {:?}: {why}", self.subject)))?;
        let timeout = duration("timeout", self.timeout.as_ref(), DEFAULT_PUBLISH_TIMEOUT)?;
        let connect_timeout = duration("connect_timeout", self.connect_timeout.as_ref(), DEFAULT_CONNECT_TIMEOUT)?;
        if !self.jetstream && (self.stream.is_some() || self.create_stream) {
            return Err(Error::config("config: `stream` and `create_stream` are for JetStream, and `jetstream = false` publishes to core NATS; remove them, or remove `jetstream = false`"));
        }
        let stream = match self.stream {
            Some(stream) => Some((required_stream(Some(stream), "")?, self.create_stream)),
            None if self.create_stream => {
                return Err(Error::config(
                    "config: `create_stream` needs `stream`: the name of the stream to create, e.g. \"EVENTS\"",
                ))
            }
            None => None,
        };
        Ok(PublishSettings {
            url: self.url,
            subject,
            mode: self.mode,
            stream,
            jetstream: self.jetstream,
            timeout,
            connect_timeout,
        })
    }
}

fn required_stream(stream: Option<String>, why: &str) -> Result<String, Error> {
    let Some(stream) = stream else {
        return Err(Error::config(format!("config: `stream` is required: {why}; name it, e.g. \"EVENTS\"")));
    };
    if stream.is_empty() || stream.contains(['.', '*', '>', ' ', '\t', '/', '\\']) {
        return Err(Error::config(format!(
            "config: `stream` = {stream:?} is not a stream name; use letters, digits, `-` and `_`, e.g. \"EVENTS\""
        )));
    }
    Ok(stream)
}

fn duration(key: &str, written: Option<&WrittenDuration>, default: Duration) -> Result<Duration, Error> {
    match written.map(WrittenDuration::get).transpose() {
        Err(e) => Err(Error::config(format!("config: {}", e.for_key(key)))),
        Ok(Some(d)) if d.is_zero() => Err(Error::config(format!("config: `{key}` must be more than 0, e.g. \"5s\""))),
        Ok(d) => Ok(d.unwrap_or(default)),
    }
}

/// Why `subject` is not a NATS subject (or, with `wildcards`, a filter): tokens separated
/// by `.`, none empty, no white space; `*` a whole token, `>` the whole last one.
pub fn check_subject(subject: &str, wildcards: bool) -> Result<(), String> {
    if subject.is_empty() {
        return Err("a subject must not be empty; write tokens separated by dots, e.g. \"events.orders\"".into());
    }
    let tokens: Vec<&str> = subject.split('.').collect();
    for (i, token) in tokens.iter().enumerate() {
        if token.is_empty() {
            return Err("a subject has no empty tokens (no leading, trailing or double dots)".into());
        }
        if token.contains(char::is_whitespace) {
            return Err("a subject has no white space".into());
        }
        let wildcard = *token == "*" || (*token == ">" && i == tokens.len() - 1);
        if wildcard && !wildcards {
            return Err("a published subject has no wildcards (`*`, `>`)".into());
        }
        if !wildcard && token.contains(['*', '>']) {
            return Err("`*` stands for a whole token and `>` for the whole last ones, e.g. \"events.*.created\" or \"events.>\"".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscribe(json: &str) -> Result<SubscribeSettings, String> {
        let config: SubscribeConfig = serde_json::from_str(json).map_err(|e| e.to_string())?;
        config.check().map_err(|e| e.message().to_owned())
    }

    fn publish(json: &str) -> Result<PublishSettings, String> {
        let config: PublishConfig = serde_json::from_str(json).map_err(|e| e.to_string())?;
        config.check().map_err(|e| e.message().to_owned())
    }

    #[test]
    fn subscribe_defaults_and_requirements() {
        let settings = subscribe(r#"{"stream": "EVENTS", "durable": "fn"}"#).unwrap();
        assert_eq!(settings.url, DEFAULT_URL);
        assert_eq!(settings.batch, 256);
        let Source::JetStream { ack_wait, max_ack_pending, create_stream, .. } = settings.source else { panic!() };
        assert_eq!((ack_wait, max_ack_pending, create_stream), (Duration::from_secs(30), 20_000, false));
        assert!(subscribe(r#"{"durable": "fn"}"#).unwrap_err().contains("`stream` is required"));
        assert!(subscribe(r#"{"stream": "EVENTS"}"#).unwrap_err().contains("`durable` is required"));
        assert!(subscribe(r#"{"stream": "EVENTS", "durable": "fn", "create_stream": true}"#)
            .unwrap_err()
            .contains("needs `subjects`"));
        assert!(subscribe(r#"{"stream": "A.B", "durable": "fn"}"#).unwrap_err().contains("not a stream name"));
        assert!(subscribe(r#"{"stream": "S", "durable": "a.b"}"#).unwrap_err().contains("not a consumer name"));
        assert!(subscribe(r#"{"stream": "S", "durable": "d", "ack_wait": 5}"#).unwrap_err().contains("ack_wait"));
        assert!(subscribe(r#"{"stream": "S", "durable": "d", "batch": 0}"#).unwrap_err().contains("`batch`"));
        assert!(subscribe(r#"{"stream": "S", "durable": "d", "subjects": ["a..b"]}"#)
            .unwrap_err()
            .contains("empty tokens"));
    }

    #[test]
    fn core_mode_takes_subjects_and_no_stream() {
        let settings = subscribe(r#"{"jetstream": false, "subjects": ["a.>"], "durable": "workers"}"#).unwrap();
        assert!(matches!(settings.source, Source::Core { queue: Some(ref q) } if q == "workers"));
        assert!(subscribe(r#"{"jetstream": false}"#).unwrap_err().contains("`subjects` is required"));
        assert!(subscribe(r#"{"jetstream": false, "subjects": ["a"], "stream": "S"}"#)
            .unwrap_err()
            .contains("`stream` is for JetStream"));
    }

    #[test]
    fn publish_defaults_and_requirements() {
        let settings = publish("{}").unwrap();
        assert_eq!((settings.url.as_str(), settings.mode, settings.jetstream), (DEFAULT_URL, Mode::Binary, true));
        assert_eq!(settings.timeout, Duration::from_secs(5));
        assert_eq!(publish(r#"{"mode": "structured"}"#).unwrap().mode, Mode::Structured);
        assert!(publish(r#"{"mode": "batched"}"#).unwrap_err().contains("unknown variant"));
        assert!(publish(r#"{"create_stream": true}"#).unwrap_err().contains("needs `stream`"));
        assert!(publish(r#"{"subject": "events.{nope}"}"#).unwrap_err().contains("{nope}"));
        assert!(publish(r#"{"jetstream": false, "stream": "S"}"#).unwrap_err().contains("for JetStream"));
    }

    #[test]
    fn subjects() {
        assert!(check_subject("events.>", true).is_ok());
        assert!(check_subject("events.*.x", true).is_ok());
        assert!(check_subject("events.>", false).is_err());
        assert!(check_subject("events.a>", true).is_err());
        assert!(check_subject(">.a", true).is_err());
        assert!(check_subject("a b", true).is_err());
    }
}
