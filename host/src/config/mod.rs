//! The host's configuration: one TOML file, read into [`Config`] and validated. Every error
//! is a [`Diagnostic`] that names the file, line and column and says how to fix it.

mod admin;
mod backoff;
mod dead_letter;
mod isolate;
mod log;
mod model;
pub mod plugin_config;
mod plugin_json;
pub mod spans;
pub(crate) mod suggest;
pub(crate) mod wording;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;

use crate::diagnostic::{Diagnostic, Location, SourceFile};
pub use admin::AdminConfig;
pub use isolate::{IsolateConfig, GO_MIN_MEMORY};
pub use log::{DiskConfig, Fsync, LogConfig};
use model::{RawConfig, RawInstance};

/// Producer or consumer: the config table an instance is listed in, and what a plugin
/// declares itself to be (`EVH_KIND_*`); an instance runs only where the two agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Producer,
    Consumer,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Producer => "producer",
            Kind::Consumer => "consumer",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated configuration.
#[derive(Debug)]
pub struct Config {
    pub drain_timeout: Duration,
    pub max_event_bytes: usize,
    pub log: LogConfig,
    /// The admin endpoint, when it is on.
    pub admin: Option<AdminConfig>,
    pub producers: Vec<InstanceConfig>,
    pub consumers: Vec<InstanceConfig>,
}

/// One `[[producer]]` or `[[consumer]]` entry.
#[derive(Debug, Clone)]
pub struct InstanceConfig {
    pub kind: Kind,
    pub name: String,
    /// Resolved against the config file's folder.
    pub library: PathBuf,
    pub plugin: Option<String>,
    /// The `config` table as JSON text.
    pub config_json: String,
    pub delivery: DeliveryConfig,
    pub name_at: Location,
    pub library_at: Location,
    pub plugin_at: Option<Location>,
    /// The `config` table, when there is one.
    pub config_at: Option<Location>,
    /// The `dead_letter` key, when there is one.
    pub dead_letter_at: Option<Location>,
    /// The config file's folder, absolute: plugins resolve their relative paths against it.
    pub config_dir: PathBuf,
    /// `isolate = true`: the instance runs in a worker process of its own.
    pub isolate: Option<IsolateConfig>,
}

/// What to do for a consumer that falls a full log behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Producers wait (backpressure).
    Block,
    /// This consumer alone skips the oldest events; the skipped events are counted and logged.
    DropOldest,
}

#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    pub policy: Policy,
    pub batch: usize,
    pub retry_attempts: u32,
    pub backoff_first: Duration,
    pub backoff_max: Duration,
    pub dead_letter: Option<PathBuf>,
    /// Where a consumer new to a disk log starts.
    pub start: Start,
}

/// Where a consumer the disk log has not seen before starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At the next event appended.
    End,
    /// At the oldest event the log still holds.
    Beginning,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            policy: Policy::Block,
            batch: 256,
            retry_attempts: 5,
            backoff_first: Duration::from_millis(100),
            backoff_max: Duration::from_secs(30),
            dead_letter: None,
            start: Start::End,
        }
    }
}

pub const DEFAULT_CAPACITY: usize = 65536;
pub const DEFAULT_MAX_BYTES: usize = 256 << 20;
pub const DEFAULT_MAX_EVENT_BYTES: usize = 1 << 20;
/// The largest `max_event_bytes` accepted: 1 GiB.
const MAX_EVENT_BYTES_LIMIT: u64 = 1 << 30;
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads and validates the config file at `path`, and checks that every dead-letter file can
/// be written. Both `check` and `run` come through here, so they accept and refuse the same
/// configs.
pub fn load(path: &Path) -> Result<Config, Diagnostic> {
    let text = crate::files::read_text("config file", path, crate::files::CONFIG_LIMIT).map_err(|e| {
        Diagnostic::new(e.to_string())
            .help("pass the path of an evhost TOML file with --config, e.g. `evhost run --config evhost.toml`")
    })?;
    let config = parse(path, text)?;
    for consumer in &config.consumers {
        dead_letter::check(consumer)?;
    }
    Ok(config)
}

impl Config {
    /// What this config allows but probably does not mean. Logged once every instance was
    /// created (by `check` and `run` alike), so that a config that fails says only why.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = match (self.producers.is_empty(), self.consumers.is_empty()) {
            (false, true) => vec![
                "this config has producers but no consumers: every event they emit goes nowhere; add a [[consumer]] table to receive them".to_string(),
            ],
            (true, false) => vec![
                "this config has consumers but no producers: the consumers will never receive anything, and `run` stops as soon as it started; add a [[producer]] table".to_string(),
            ],
            _ => Vec::new(),
        };
        warnings.extend(self.admin.as_ref().and_then(AdminConfig::warning));
        warnings
    }
}

/// Validates config `text` that was read from `path` (used for messages and relative paths).
pub fn parse(path: &Path, text: String) -> Result<Config, Diagnostic> {
    let file = Arc::new(SourceFile { path: path.to_path_buf(), text });
    let at = |span: std::ops::Range<usize>| Some(Location { file: file.clone(), span });
    let raw: RawConfig = toml::from_str(&file.text).map_err(|e| {
        let message = e.message().trim().to_string();
        let (message, help) =
            suggest::unknown_field(&message).or_else(|| missing_field(&message)).unwrap_or_else(|| {
                (format!("invalid config: {message}"), "see the example config in the README".to_string())
            });
        Diagnostic::new(message).at(e.span().and_then(at)).help(help)
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    // `Path::new("evhost.toml").parent()` is "", which std::path::absolute refuses.
    let folder = if base.as_os_str().is_empty() { Path::new(".") } else { base.as_path() };
    let config_dir = std::path::absolute(folder).unwrap_or_else(|_| base.clone());
    let validator = Validator { file: file.clone(), base, config_dir };
    validator.config(raw)
}

/// Turns serde's "missing field `x`" into a message and an example of the key.
fn missing_field(message: &str) -> Option<(String, String)> {
    let field = message.strip_prefix("missing field `")?.strip_suffix('`')?;
    let example = match field {
        "name" => "name = \"audit\"",
        "library" => "library = \"target/plugins/libevh_example_c.so\"",
        _ => "",
    };
    let example = if example.is_empty() { field } else { example };
    Some(wording::missing_key(field, example, "this table"))
}

struct Validator {
    file: Arc<SourceFile>,
    base: PathBuf,
    /// `base`, absolute, for plugins.
    config_dir: PathBuf,
}

impl Validator {
    fn at<T>(&self, spanned: &Spanned<T>) -> Location {
        Location { file: self.file.clone(), span: spanned.span() }
    }

    fn location(&self, span: std::ops::Range<usize>) -> Location {
        Location { file: self.file.clone(), span }
    }

    fn error<T>(&self, spanned: &Spanned<T>, message: impl Into<String>, help: impl Into<String>) -> Diagnostic {
        Diagnostic::new(message).at(Some(self.at(spanned))).help(help)
    }

    fn config(&self, raw: RawConfig) -> Result<Config, Diagnostic> {
        let drain_timeout = match &raw.host.drain_timeout {
            Some(v) => match v.get_ref().get().map_err(|e| self.error(v, "invalid `drain_timeout`", e.to_string()))? {
                // Zero leaves no time to stop a producer, so every shutdown would fail.
                zero if zero.is_zero() => {
                    return Err(self.error(
                        v,
                        "`drain_timeout` must be above zero",
                        "give the time shutdown may take to stop producers and deliver what is left, e.g. drain_timeout = \"30s\"",
                    ))
                }
                timeout => timeout,
            },
            None => DEFAULT_DRAIN_TIMEOUT,
        };
        let max_event_bytes =
            match &raw.host.max_event_bytes {
                Some(v) => {
                    match v.get_ref().bytes().map_err(|e| self.error(v, "invalid `max_event_bytes`", e.to_string()))? {
                        // The log stores an event's id length in 32 bits, and no event needs more.
                        size if size > MAX_EVENT_BYTES_LIMIT => {
                            return Err(self.error(
                                v,
                                "`max_event_bytes` is too large",
                                "give at most \"1GiB\"; send larger payloads by reference (a URL or an object key)",
                            ))
                        }
                        0 => return Err(self.error(
                            v,
                            "`max_event_bytes` must be above zero",
                            "give the size of the largest event producers may emit, e.g. max_event_bytes = \"1MiB\"",
                        )),
                        size => size as usize,
                    }
                }
                None => DEFAULT_MAX_EVENT_BYTES,
            };
        let log = self.log(&raw.log, max_event_bytes)?;
        let admin = raw.admin.as_ref().map(|admin| self.admin(admin)).transpose()?;

        let mut seen: HashMap<String, Location> = HashMap::new();
        let mut instances = |list: Vec<RawInstance>, kind: Kind| -> Result<Vec<InstanceConfig>, Diagnostic> {
            let mut out = Vec::with_capacity(list.len());
            for raw in list {
                let instance = self.instance(raw, kind)?;
                if let Some(other) = seen.get(&instance.name) {
                    let (first, second) = if other.span.start < instance.name_at.span.start {
                        (other.clone(), instance.name_at)
                    } else {
                        (instance.name_at, other.clone())
                    };
                    let (line, _) = first.line_col();
                    return Err(Diagnostic::new(format!("duplicate name \"{}\"", instance.name))
                        .at(Some(second))
                        .help(format!("line {line} already uses this name; every producer and consumer needs its own name, so rename one of them")));
                }
                seen.insert(instance.name.clone(), instance.name_at.clone());
                out.push(instance);
            }
            Ok(out)
        };
        let producers = instances(raw.producer, Kind::Producer)?;
        let consumers = instances(raw.consumer, Kind::Consumer)?;
        if producers.is_empty() && consumers.is_empty() {
            return Err(Diagnostic::new(format!("{} declares no plugins", self.file.path.display()))
                .help("add a [[producer]] and a [[consumer]] table, each with `name` and `library`"));
        }
        Ok(Config { drain_timeout, max_event_bytes, log, admin, producers, consumers })
    }

    fn instance(&self, raw: RawInstance, kind: Kind) -> Result<InstanceConfig, Diagnostic> {
        let name = raw.name.get_ref();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(self.error(
                &raw.name,
                format!("invalid name \"{name}\""),
                "use letters, digits, '-', '_' or '.', e.g. name = \"audit\"",
            ));
        }
        if raw.library.get_ref().is_empty() {
            return Err(self.error(
                &raw.library,
                "empty `library`",
                "give the path of the plugin's shared library, e.g. library = \"target/plugins/libevh_example_c.so\"",
            ));
        }
        let config_json = match &raw.config {
            Some(table) => plugin_json::to_json(table.get_ref()).map_err(|e| {
                self.error(
                    table,
                    format!("`config` cannot be passed to the plugin: {e}"),
                    "use plain strings, numbers, booleans, arrays and tables",
                )
            })?,
            None => "{}".to_string(),
        };
        let delivery = match kind {
            Kind::Consumer => self.delivery(&raw)?,
            Kind::Producer => {
                let consumer_only = [
                    raw.policy.as_ref().map(|v| ("policy", v.span())),
                    raw.batch.as_ref().map(|v| ("batch", v.span())),
                    raw.retry.as_ref().map(|v| ("retry", v.span())),
                    raw.dead_letter.as_ref().map(|v| ("dead_letter", v.span())),
                    raw.start.as_ref().map(|v| ("start", v.span())),
                ];
                if let Some((key, span)) = consumer_only.into_iter().flatten().next() {
                    return Err(Diagnostic::new(format!("`{key}` applies to consumers only"))
                        .at(Some(Location { file: self.file.clone(), span }))
                        .help(format!("remove `{key}` from [[producer]] \"{name}\"")));
                }
                DeliveryConfig::default()
            }
        };
        let isolate = self.isolate(&raw, name)?;
        let mut delivery = delivery;
        if isolate.is_some() && kind == Kind::Consumer && raw.batch.is_none() {
            delivery.batch = isolate::DEFAULT_BATCH;
        }
        Ok(InstanceConfig {
            kind,
            name: name.clone(),
            library: self.base.join(raw.library.get_ref()),
            plugin: raw.plugin.as_ref().map(|p| p.get_ref().clone()),
            config_json,
            delivery,
            name_at: self.at(&raw.name),
            library_at: self.at(&raw.library),
            plugin_at: raw.plugin.as_ref().map(|p| self.at(p)),
            config_at: raw.config.as_ref().map(|c| self.at(c)),
            dead_letter_at: raw.dead_letter.as_ref().map(|d| self.at(d)),
            config_dir: self.config_dir.clone(),
            isolate,
        })
    }

    fn delivery(&self, raw: &RawInstance) -> Result<DeliveryConfig, Diagnostic> {
        let mut delivery = DeliveryConfig::default();
        if let Some(policy) = &raw.policy {
            delivery.policy = match policy.get_ref().as_str() {
                "block" => Policy::Block,
                "drop_oldest" => Policy::DropOldest,
                other => {
                    return Err(self.error(
                        policy,
                        format!("unknown policy `{other}`"),
                        "use policy = \"block\" (producers wait) or \"drop_oldest\" (this consumer skips)",
                    ))
                }
            };
        }
        if let Some(batch) = &raw.batch {
            if !(1..=65536).contains(batch.get_ref()) {
                return Err(self.error(
                    batch,
                    "invalid `batch`",
                    "give the largest batch size from 1 to 65536, e.g. batch = 256",
                ));
            }
            delivery.batch = *batch.get_ref() as usize;
        }
        if let Some(retry) = &raw.retry {
            let retry = retry.get_ref();
            if let Some(attempts) = &retry.attempts {
                if !(0..=1000).contains(attempts.get_ref()) {
                    return Err(self.error(
                        attempts,
                        "invalid retry `attempts`",
                        "give a number from 0 to 1000, e.g. attempts = 10",
                    ));
                }
                delivery.retry_attempts = *attempts.get_ref() as u32;
            }
            if let Some(backoff) = &retry.backoff {
                let (first, max) = backoff::parse_backoff(backoff.get_ref())
                    .map_err(|e| self.error(backoff, "invalid retry `backoff`", e))?;
                delivery.backoff_first = first;
                delivery.backoff_max = max;
            }
        }
        if let Some(path) = &raw.dead_letter {
            if path.get_ref().is_empty() {
                return Err(self.error(
                    path,
                    "empty `dead_letter`",
                    "give a file path, e.g. dead_letter = \"audit-dlq.jsonl\"",
                ));
            }
            delivery.dead_letter = Some(self.base.join(path.get_ref()));
        }
        if let Some(start) = &raw.start {
            delivery.start = match start.get_ref().as_str() {
                "end" => Start::End,
                "beginning" => Start::Beginning,
                other => {
                    return Err(self.error(
                        start,
                        format!("unknown start `{other}`"),
                        "use start = \"end\" (only events appended from now on) or \"beginning\" (every event the disk log still holds)",
                    ))
                }
            };
        }
        Ok(delivery)
    }
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
