//! Where a key of a plugin's `config` table is in the config file, so that a diagnostic
//! about it points at the value, not at the whole table. The file is read again, keeping the
//! span of every value under each entry's `config`; this runs only for an error message.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use super::plugin_config::{parse_path, Step};
use super::Kind;

/// The byte range of the value at `key` (a config accessor's path, `jobs[2].every`) in the
/// `config` table of the `kind` entry called `name`, if the file has one there.
pub fn config_key_span(text: &str, kind: Kind, name: &str, key: &str) -> Option<Range<usize>> {
    let doc: Doc = toml::from_str(text).ok()?;
    let entries = match kind {
        Kind::Producer => doc.producer,
        Kind::Consumer => doc.consumer,
    };
    let mut node = entries.into_iter().find(|e| e.name == name)?.config?;
    for step in parse_path(key).ok()? {
        node = match (step, node.into_inner()) {
            (Step::Key(key), Node::Table(mut table)) => table.remove(&key)?,
            (Step::Index(i), Node::Array(mut items)) if i < items.len() => items.swap_remove(i),
            _ => return None,
        };
    }
    Some(node.span())
}

#[derive(Deserialize)]
struct Doc {
    #[serde(default)]
    producer: Vec<Entry>,
    #[serde(default)]
    consumer: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    config: Option<Spanned<Node>>,
}

/// A TOML value with the span of everything in it.
enum Node {
    Table(BTreeMap<String, Spanned<Node>>),
    Array(Vec<Spanned<Node>>),
    Scalar,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a TOML value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Scalar)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut table = BTreeMap::new();
        while let Some((key, value)) = map.next_entry::<String, Spanned<Node>>()? {
            table.insert(key, value);
        }
        Ok(Node::Table(table))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"[[producer]]
name = "p"
library = "x.so"
config = { count = "ten", jobs = [{ every = "1s" }, { every = "5 minutes" }] }

[[consumer]]
name = "c"
library = "y.so"

[consumer.config]
tls = { ca_fle = "ca.pem" }
"#;

    fn at(kind: Kind, name: &str, key: &str) -> Option<&'static str> {
        config_key_span(TEXT, kind, name, key).map(|span| &TEXT[span])
    }

    #[test]
    fn finds_keys_in_inline_and_standard_tables() {
        assert_eq!(at(Kind::Producer, "p", "count"), Some("\"ten\""));
        assert_eq!(at(Kind::Producer, "p", "jobs[1].every"), Some("\"5 minutes\""));
        assert_eq!(at(Kind::Consumer, "c", "tls.ca_fle"), Some("\"ca.pem\""));
    }

    #[test]
    fn anything_else_is_none() {
        assert_eq!(at(Kind::Producer, "p", "missing"), None);
        assert_eq!(at(Kind::Producer, "p", "jobs[2].every"), None);
        assert_eq!(at(Kind::Consumer, "p", "count"), None);
        assert_eq!(at(Kind::Producer, "p", "count[0]"), None);
    }
}
