//! The checks on the library itself. The host's loader does the handshake and refuses what
//! it cannot use (a version it does not speak, a struct_size below ABI 1.0, an unknown
//! kind, a missing required hook): that refusal is the `load` check's failure, reported by
//! the parent. What the loader lets through but a config could not use is checked here.

use std::collections::HashSet;

use super::child::Verdict;
use crate::loader::{Library, LoadError};

/// A load error that means the user named the wrong file (exit 2), not a plugin that breaks
/// the ABI (a failed check, exit 1).
pub fn is_usage_error(e: &LoadError) -> bool {
    matches!(e, LoadError::File(_) | LoadError::NotSharedObject { .. } | LoadError::NoEntryPoint { .. })
}

pub fn run(check: &str, library: &Library) -> Verdict {
    match check {
        "load" => Verdict::pass(format!(
            "ABI {}.{}; {}",
            library.abi_major,
            library.abi_minor,
            library.plugins.iter().map(|p| format!("\"{}\" ({})", p.name, p.kind)).collect::<Vec<_>>().join(", ")
        )),
        "names" => {
            let mut seen = HashSet::new();
            for plugin in &library.plugins {
                if !seen.insert(plugin.name.as_str()) {
                    return Verdict::fail(format!(
                        "two plugins are named \"{}\": a config could reach only the first",
                        plugin.name
                    ));
                }
                if !plugin.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                    return Verdict::fail(format!(
                        "the plugin name \"{}\" has characters other than letters, digits, '-', '_' and '.'",
                        plugin.name
                    ));
                }
            }
            if library.plugins.is_empty() {
                return Verdict::fail("the library carries no plugins".into());
            }
            Verdict::pass(None)
        }
        other => unreachable!("not a library check: {other}"),
    }
}
