//! What a reload may change while the host runs, and what is a change: the instances may
//! come, go and change; the log (`[log]`), the largest event (`[host] max_event_bytes`, which
//! every running producer and the log were sized by) and the admin endpoint (`[admin]`,
//! which is serving the reload request itself) need a restart. `[host] drain_timeout`
//! applies from the reload on.

use serde::Deserialize;
use toml::Spanned;

use super::model::{AdminSection, HostSection, LogSection};
use super::{Config, InstanceConfig, IsolateConfig};
use crate::diagnostic::{Diagnostic, Location};

/// The parts of the file that name the keys a reload may not change, with their spans.
#[derive(Deserialize)]
struct Doc {
    #[serde(default)]
    host: HostSection,
    #[serde(default)]
    log: LogSection,
    admin: Option<Spanned<AdminSection>>,
}

/// Refuses `new` when it changes what only a restart can (see the module doc); the
/// diagnostic names the key and points at it in the new file when it is there.
pub fn restart_needed(old: &Config, new: &Config) -> Result<(), Diagnostic> {
    let Some(key) = changed_key(old, new) else { return Ok(()) };
    let span = toml::from_str::<Doc>(&new.source.text).ok().and_then(|doc| span_of(&doc, key));
    Err(Diagnostic::new(format!("`{key}` cannot change while evhost runs; the reload changed nothing"))
        .at(span.map(|span| Location { file: new.source.clone(), span }))
        .help(format!("restart evhost to use the new `{key}` (with [log] kind = \"disk\", consumers resume where they were), or put back the value it runs with")))
}

/// The first key, as `[section] key`, whose value differs.
fn changed_key(old: &Config, new: &Config) -> Option<&'static str> {
    let (a, b) = (&old.log, &new.log);
    let disk = |f: fn(&super::DiskConfig) -> String| a.disk.as_ref().map(f) != b.disk.as_ref().map(f);
    let checks: [(&'static str, bool); 10] = [
        ("[log] kind", a.disk.is_some() != b.disk.is_some()),
        ("[log] capacity", a.capacity != b.capacity),
        ("[log] path", disk(|d| d.path.display().to_string())),
        ("[log] fsync", disk(|d| format!("{:?}", d.fsync))),
        ("[log] segment_bytes", disk(|d| d.segment_bytes.to_string())),
        ("[log] max_bytes", a.max_bytes != b.max_bytes || disk(|d| d.max_bytes.to_string())),
        ("[host] max_event_bytes", old.max_event_bytes != new.max_event_bytes),
        ("[admin] listen", old.admin.as_ref().map(|a| a.listen) != new.admin.as_ref().map(|a| a.listen)),
        ("[admin] token", old.admin.as_ref().map(|a| &a.token) != new.admin.as_ref().map(|a| &a.token)),
        ("[log]", a != b),
    ];
    checks.into_iter().find(|(_, changed)| *changed).map(|(key, _)| key)
}

fn span_of(doc: &Doc, key: &str) -> Option<std::ops::Range<usize>> {
    let log = &doc.log;
    let admin = doc.admin.as_ref().map(Spanned::get_ref);
    match key {
        "[log] kind" => log.kind.as_ref().map(Spanned::span),
        "[log] capacity" => log.capacity.as_ref().map(Spanned::span),
        "[log] path" => log.path.as_ref().map(Spanned::span),
        "[log] fsync" => {
            log.fsync.as_ref().map(Spanned::span).or_else(|| log.fsync_interval.as_ref().map(Spanned::span))
        }
        "[log] segment_bytes" => log.segment_bytes.as_ref().map(Spanned::span),
        "[log] max_bytes" => log.max_bytes.as_ref().map(Spanned::span),
        "[host] max_event_bytes" => doc.host.max_event_bytes.as_ref().map(Spanned::span),
        "[admin] listen" => admin.and_then(|a| a.listen.as_ref()).map(Spanned::span),
        "[admin] token" => admin.and_then(|a| a.token.as_ref()).map(Spanned::span),
        _ => None,
    }
}

/// True when two entries would run the same instance: every field equal but where they
/// are written in the file. Listed field by field, so that a new field must be placed here.
pub fn same_entry(a: &InstanceConfig, b: &InstanceConfig) -> bool {
    let InstanceConfig {
        kind,
        name,
        library,
        plugin,
        config_json,
        delivery,
        name_at: _,
        library_at: _,
        plugin_at: _,
        config_at: _,
        dead_letter_at: _,
        config_dir,
        isolate,
    } = a;
    // Where `max_memory` is written does not matter, only what the keys say.
    let keys = |isolate: &Option<IsolateConfig>| {
        isolate.as_ref().map(|i| (i.restart_attempts, i.backoff_first, i.backoff_max, i.hook_timeout, i.max_memory))
    };
    (kind, name, library, plugin, config_json, delivery, config_dir, keys(isolate))
        == (&b.kind, &b.name, &b.library, &b.plugin, &b.config_json, &b.delivery, &b.config_dir, keys(&b.isolate))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{restart_needed, same_entry};
    use crate::config::{parse, Config};

    const ENTRY: &str = "[[consumer]]\nname = \"a\"\nlibrary = \"a.so\"\nconfig = { path = \"a.jsonl\" }\n";

    fn config(head: &str, entry: &str) -> Config {
        parse(Path::new("evhost.toml"), format!("{head}\n{entry}")).expect("a valid config")
    }

    /// The key a reload from `old` to `new` (both with ENTRY) is refused for, if any.
    fn refused(old: &str, new: &str) -> Option<String> {
        restart_needed(&config(old, ENTRY), &config(new, ENTRY)).err().map(|d| d.message)
    }

    #[test]
    fn the_log_the_largest_event_and_the_admin_endpoint_need_a_restart() {
        let disk = "[log]\nkind = \"disk\"\npath = \"evlog\"\n";
        let cases = [
            ("", "[log]\ncapacity = 1024\n", "[log] capacity"),
            ("", disk, "[log] kind"),
            (disk, "[log]\nkind = \"disk\"\npath = \"other\"\n", "[log] path"),
            (disk, "[log]\nkind = \"disk\"\npath = \"evlog\"\nfsync = \"never\"\n", "[log] fsync"),
            (disk, "[log]\nkind = \"disk\"\npath = \"evlog\"\nsegment_bytes = \"1MiB\"\n", "[log] segment_bytes"),
            ("", "[log]\nmax_bytes = \"64MiB\"\n", "[log] max_bytes"),
            ("", "[host]\nmax_event_bytes = \"2MiB\"\n", "[host] max_event_bytes"),
            ("", "[admin]\nlisten = \"127.0.0.1:9464\"\n", "[admin] listen"),
            (
                "[admin]\nlisten = \"127.0.0.1:9464\"\n",
                "[admin]\nlisten = \"127.0.0.1:9464\"\ntoken = \"t\"\n",
                "[admin] token",
            ),
        ];
        for (old, new, key) in cases {
            let message = refused(old, new).unwrap_or_else(|| panic!("{key} changed, and the reload was allowed"));
            assert_eq!(message, format!("`{key}` cannot change while evhost runs; the reload changed nothing"));
        }
        assert_eq!(
            refused("", "[host]\ndrain_timeout = \"5s\"\n"),
            None,
            "the drain timeout applies from the reload on"
        );
        assert_eq!(refused(disk, disk), None);
    }

    #[test]
    fn an_entry_is_the_same_wherever_it_is_written_and_differs_by_any_value() {
        let a = config("", ENTRY);
        let moved = config("[host]\ndrain_timeout = \"5s\"\n\n\n", ENTRY);
        assert!(same_entry(&a.consumers[0], &moved.consumers[0]), "only the spans differ");
        let changes = [
            ENTRY.replace("a.jsonl", "b.jsonl"),
            ENTRY.replace("a.so", "b.so"),
            format!("{ENTRY}batch = 16\n"),
            format!("{ENTRY}policy = \"drop_oldest\"\n"),
            format!("{ENTRY}plugin = \"file\"\n"),
        ];
        for changed in changes {
            assert!(!same_entry(&a.consumers[0], &config("", &changed).consumers[0]), "{changed}");
        }
    }
}
