//! Which plugin of a library a config entry runs: the one its `plugin =` names, or the
//! library's only one; and it must be of the entry's kind. One decision wherever the
//! instance runs: in the host, or in an isolated instance's worker, which loads the library
//! but has no config file to point into. So a refusal names the entry's key at fault
//! ([`Key`]), and whoever has the entry places the caret ([`Refusal::diagnostic`]).

use std::path::Path;
use std::sync::Arc;

use crate::config::{suggest, InstanceConfig, Kind};
use crate::diagnostic::Diagnostic;
use crate::loader::{Loader, Plugin};

/// What an entry asks for.
pub struct Wanted<'a> {
    pub library: &'a Path,
    pub plugin: Option<&'a str>,
    pub kind: Kind,
    /// The entry's `name`.
    pub name: &'a str,
}

impl<'a> Wanted<'a> {
    pub fn of(entry: &'a InstanceConfig) -> Self {
        Wanted { library: &entry.library, plugin: entry.plugin.as_deref(), kind: entry.kind, name: &entry.name }
    }
}

/// The key of a config entry that a refusal points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Library,
    Plugin,
    Name,
}

impl Key {
    /// The key as written in the config, which is also how a worker names it to the host.
    pub fn as_str(self) -> &'static str {
        match self {
            Key::Library => "library",
            Key::Plugin => "plugin",
            Key::Name => "name",
        }
    }

    pub fn parse(key: &str) -> Option<Key> {
        [Key::Library, Key::Plugin, Key::Name].into_iter().find(|k| k.as_str() == key)
    }
}

/// Why an entry cannot run its plugin, still to be placed in the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub help: String,
    pub at: Key,
}

impl Refusal {
    /// The diagnostic, pointing at the key of `entry` at fault.
    pub fn diagnostic(self, entry: &InstanceConfig) -> Diagnostic {
        let at = match self.at {
            Key::Library => entry.library_at.clone(),
            // A plugin chosen without `plugin =` is the library's doing.
            Key::Plugin => entry.plugin_at.clone().unwrap_or_else(|| entry.library_at.clone()),
            Key::Name => entry.name_at.clone(),
        };
        Diagnostic::new(self.message).at(Some(at)).help(self.help)
    }
}

/// Loads the library with `loader` and picks the plugin `wanted` runs.
pub fn load(loader: &mut Loader, wanted: &Wanted) -> Result<Arc<Plugin>, Refusal> {
    let library = loader.load(wanted.library).map_err(|e| Refusal {
        message: e.to_string(),
        help: e.help(),
        at: Key::Library,
    })?;
    let plugin = select(&library.plugins, wanted)?;
    if plugin.kind != wanted.kind {
        return Err(Refusal {
            message: format!(
                "plugin \"{}\" is a {}, but \"{}\" is listed as a [[{}]]",
                plugin.name, plugin.kind, wanted.name, wanted.kind
            ),
            help: format!(
                "move this entry to a [[{}]] table, or name one of the library's {}s",
                plugin.kind, wanted.kind
            ),
            at: Key::Plugin,
        });
    }
    Ok(plugin.clone())
}

fn select<'a>(plugins: &'a [Arc<Plugin>], wanted: &Wanted) -> Result<&'a Arc<Plugin>, Refusal> {
    let names = || plugins.iter().map(|p| format!("\"{}\" ({})", p.name, p.kind)).collect::<Vec<_>>().join(", ");
    let path = wanted.library.display();
    match wanted.plugin {
        Some(name) => plugins.iter().find(|p| p.name == name).ok_or_else(|| Refusal {
            message: format!("library {path} has no plugin \"{name}\""),
            help: match suggest::closest(name, plugins.iter().map(|p| p.name.as_str())) {
                Some(best) => format!("did you mean \"{best}\"? It carries {}", names()),
                None => format!("it carries {}; `evhost inspect {path}` lists them", names()),
            },
            at: Key::Plugin,
        }),
        None if plugins.len() == 1 => Ok(&plugins[0]),
        None if plugins.is_empty() => Err(Refusal {
            message: format!("library {path} carries no plugins"),
            help: "rebuild it with at least one plugin registered".into(),
            at: Key::Library,
        }),
        None => {
            let fitting: Vec<&Arc<Plugin>> = plugins.iter().filter(|p| p.kind == wanted.kind).collect();
            Err(Refusal {
                message: format!(
                    "library {path} carries {} plugins, and \"{}\" does not say which one",
                    plugins.len(),
                    wanted.name
                ),
                help: match fitting.as_slice() {
                    [only] => format!("add `plugin = \"{}\"`, its only {}", only.name, wanted.kind),
                    _ => format!("add `plugin = \"...\"` naming one of {}", names()),
                },
                at: Key::Name,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_reads_back_as_it_was_named() {
        for key in [Key::Library, Key::Plugin, Key::Name] {
            assert_eq!(Key::parse(key.as_str()), Some(key));
        }
        assert_eq!(Key::parse("config"), None);
    }
}
