//! `evhost.toml` built in code, so that a test reads as the setup it describes:
//!
//! ```ignore
//! Config::new()
//!     .producer("seq", C).plugin("sequence").config(json!({ "count": 10 }))
//!     .consumer("digest", C).plugin("digest").config(json!({ "path": "digest.json" }))
//! ```
//!
//! Values are JSON (`json!`), written as TOML inline values; `libevh_*` libraries are the
//! ones `make build` made (see [`plugin`]), any other library path is written as given,
//! relative to the config file (a fixture compiled into the test's folder).

use serde_json::{json, Value};

use crate::support::{plugin, C};

/// A config file: top-level tables and plugin entries, in the order they were added.
#[derive(Default)]
pub struct Config {
    tables: Vec<Table>,
}

/// `[name]` or `[[name]]` and its keys.
struct Table {
    header: String,
    keys: Vec<(String, Value)>,
}

impl Config {
    pub fn new() -> Self {
        Self::default()
    }

    /// A `[name]` table, such as `log` or `admin`, with the keys of the `keys` object.
    pub fn table(mut self, name: &str, keys: Value) -> Self {
        let Value::Object(keys) = keys else { panic!("the keys of [{name}] are a JSON object, not {keys}") };
        self.tables.push(Table { header: format!("[{name}]"), keys: keys.into_iter().collect() });
        self
    }

    /// The `sequence` producer of `library` as "seq", with `sequence` as its config.
    pub fn sequence(library: &str, sequence: Value) -> Self {
        Config::new().producer("seq", library).plugin("sequence").config(sequence)
    }

    /// The suite's most common start: the C `sequence` as "seq" with `sequence` as its
    /// config, into the C `digest` as "digest", writing digest.json.
    pub fn sequence_into_digest(sequence: Value) -> Self {
        Config::sequence(C, sequence).digest()
    }

    /// The C `digest` as "digest", writing digest.json: the consumer that checks everything
    /// arrived, in order.
    pub fn digest(self) -> Self {
        self.consumer("digest", C).plugin("digest").config(json!({ "path": "digest.json" }))
    }

    /// One consumer per `(name, library)`, each running `plugin` and writing
    /// `<folder><name>.json`: the same example in several languages side by side.
    pub fn consumers(self, consumers: &[(&str, &str)], plugin: &str, folder: &str) -> Self {
        consumers.iter().fold(self, |config, (name, library)| {
            config.consumer(name, library).plugin(plugin).config(json!({ "path": format!("{folder}{name}.json") }))
        })
    }

    /// A `[[producer]]` entry named `name`, from `library`.
    pub fn producer(self, name: &str, library: &str) -> Self {
        self.entry("[[producer]]", name, library)
    }

    /// A `[[consumer]]` entry named `name`, from `library`.
    pub fn consumer(self, name: &str, library: &str) -> Self {
        self.entry("[[consumer]]", name, library)
    }

    /// The latest entry's `plugin` key: which of the library's plugins it runs.
    pub fn plugin(self, plugin: &str) -> Self {
        self.set("plugin", plugin)
    }

    /// The latest entry's `config` table, the plugin's own config.
    pub fn config(self, config: Value) -> Self {
        self.set("config", config)
    }

    /// Any other key of the latest table or entry: `dead_letter`, `retry`, `policy`, ...
    pub fn set(mut self, key: &str, value: impl Into<Value>) -> Self {
        let table = self.tables.last_mut().expect("a table or an entry before its keys");
        table.keys.push((key.to_string(), value.into()));
        self
    }

    fn entry(self, header: &str, name: &str, library: &str) -> Self {
        let library =
            if library.starts_with("libevh_") { plugin(library).display().to_string() } else { library.into() };
        let mut config = self;
        config.tables.push(Table { header: header.to_string(), keys: Vec::new() });
        config.set("name", name).set("library", library)
    }

    /// The file's text: one table after another, a blank line between them.
    pub fn to_toml(&self) -> String {
        let mut text = String::new();
        for table in &self.tables {
            text.push('\n');
            text.push_str(&table.header);
            text.push('\n');
            for (key, value) in &table.keys {
                text.push_str(&format!("{} = {}\n", toml_key(key), toml_value(value)));
            }
        }
        text
    }
}

/// A bare key when TOML allows one, else a quoted one.
fn toml_key(key: &str) -> String {
    let bare = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_string()
    } else {
        Value::from(key).to_string()
    }
}

/// `value` as a TOML inline value. A JSON string is also a TOML basic string: both escape
/// `"`, `\` and control characters the same way.
fn toml_value(value: &Value) -> String {
    match value {
        Value::Null => panic!("TOML has no null"),
        Value::Bool(_) | Value::Number(_) | Value::String(_) => value.to_string(),
        Value::Array(items) => format!("[{}]", items.iter().map(toml_value).collect::<Vec<_>>().join(", ")),
        Value::Object(keys) if keys.is_empty() => "{}".to_string(),
        Value::Object(keys) => {
            let keys: Vec<_> = keys.iter().map(|(k, v)| format!("{} = {}", toml_key(k), toml_value(v))).collect();
            format!("{{ {} }}", keys.join(", "))
        }
    }
}

/// The C `digest` consumer writing digest.json, as config text, for tests whose snapshots
/// show the config's lines as written (the builder sorts keys).
pub const DIGEST_TEXT: &str = r#"
[[consumer]]
name = "digest"
library = "{C}"
plugin = "digest"
config = { path = "digest.json" }
"#;

/// The C `sequence` producer of 10 events, as config text (see [`DIGEST_TEXT`]).
pub const SEQUENCE_TEXT: &str = r#"
[[producer]]
name = "seq"
library = "{C}"
plugin = "sequence"
config = { count = 10 }
"#;
