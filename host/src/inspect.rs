//! `evhost inspect LIBRARY`: what a library says about itself.

use serde_json::json;

use crate::loader::Library;

/// The human-readable listing.
pub fn text(library: &Library) -> String {
    let mut out = format!(
        "{}\n  abi: {}.{}{}\n  plugins:\n",
        library.path.display(),
        library.abi_major,
        library.abi_minor,
        if library.go_runtime { " (carries a Go runtime)" } else { "" }
    );
    for plugin in &library.plugins {
        let version = if plugin.version.is_empty() { "-" } else { &plugin.version };
        out.push_str(&format!(
            "    {:<12} {:<8} {:<8} {}\n",
            plugin.name,
            plugin.kind.to_string(),
            version,
            plugin.description
        ));
    }
    out
}

/// The `--json` form, for scripts.
pub fn json(library: &Library) -> serde_json::Value {
    json!({
        "library": library.path.display().to_string(),
        "abi": { "major": library.abi_major, "minor": library.abi_minor },
        "go_runtime": library.go_runtime,
        "plugins": library.plugins.iter().map(|p| json!({
            "name": p.name,
            "kind": p.kind.to_string(),
            "version": p.version,
            "description": p.description,
        })).collect::<Vec<_>>(),
    })
}
