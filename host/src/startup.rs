//! From config entries to live instances: load each library once, pick the plugin
//! ([`selection`]), and call `on_create`. Used by `run` and by `check`. Every failure is a
//! [`Diagnostic`] pointing at the config entry at fault.

use std::sync::Arc;

use crate::config::{spans, Config, InstanceConfig, Kind};
use crate::diagnostic::{Diagnostic, Location};
use crate::hosted::Hosted;
use crate::isolate::Isolated;
use crate::loader::{EmitTarget, HookError, Instance, InstanceHost, Loader};
use crate::log::Log;
use crate::selection::{self, Wanted};

/// The instances of a config: consumers first, then producers, as they start.
pub struct Instances {
    pub consumers: Vec<(InstanceConfig, Arc<Hosted>)>,
    pub producers: Vec<(InstanceConfig, Arc<Hosted>)>,
}

/// Creates every instance, consumers first, and logs the config's warnings; or None when
/// `stopping` turns true on the way (a shutdown signal came). On an error or a stop, those
/// already created are destroyed (by drop) before it returns: nothing is left half-started.
pub fn create_all(
    config: &Config,
    log: &Arc<Log>,
    stopping: &dyn Fn() -> bool,
) -> Result<Option<Instances>, Diagnostic> {
    create_all_with(&mut Loader::default(), config, log, stopping)
}

/// [`create_all`] with the loader `run` keeps for its reloads.
pub fn create_all_with(
    loader: &mut Loader,
    config: &Config,
    log: &Arc<Log>,
    stopping: &dyn Fn() -> bool,
) -> Result<Option<Instances>, Diagnostic> {
    let consumers = config.consumers.iter().map(Some).collect();
    let producers = config.producers.iter().map(Some).collect();
    let Some(created) = create_listed(loader, consumers, producers, log, config.max_event_bytes, stopping)? else {
        return Ok(None);
    };
    if stopping() {
        return Ok(None);
    }
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let paired = |entries: &[InstanceConfig], created: Vec<Option<Arc<Hosted>>>| {
        entries.iter().cloned().zip(created.into_iter().flatten()).collect()
    };
    Ok(Some(Instances {
        consumers: paired(&config.consumers, created.consumers),
        producers: paired(&config.producers, created.producers),
    }))
}

/// Instances created from lists of entries, parallel to them: None where no entry was given.
#[derive(Default)]
pub struct Created {
    pub consumers: Vec<Option<Arc<Hosted>>>,
    pub producers: Vec<Option<Arc<Hosted>>>,
}

/// Creates an instance for each entry given in `consumers` and `producers`, consumers first,
/// producers emitting into `log`: for a start every entry, for a reload the new and changed
/// ones. None when `stopping` turns true on the way. On an error or a stop, those already
/// created are destroyed (by drop) before it returns.
pub fn create_listed(
    loader: &mut Loader,
    consumers: Vec<Option<&InstanceConfig>>,
    producers: Vec<Option<&InstanceConfig>>,
    log: &Arc<Log>,
    max_event_bytes: usize,
    stopping: &dyn Fn() -> bool,
) -> Result<Option<Created>, Diagnostic> {
    let mut created = Created::default();
    for (entries, kind) in [(consumers, Kind::Consumer), (producers, Kind::Producer)] {
        for entry in entries {
            let instance = match entry {
                Some(_) if stopping() => return Ok(None),
                Some(entry) => {
                    let target = (kind == Kind::Producer).then(|| EmitTarget::log(log.clone(), max_event_bytes));
                    Some(host(loader, entry, target, max_event_bytes)?)
                }
                None => None,
            };
            match kind {
                Kind::Consumer => created.consumers.push(instance),
                Kind::Producer => created.producers.push(instance),
            }
        }
    }
    Ok(Some(created))
}

/// Creates one instance, in this process or in a worker of its own (`isolate = true`);
/// `target` is where a producer's events go (None for consumers).
pub fn host(
    loader: &mut Loader,
    entry: &InstanceConfig,
    target: Option<EmitTarget>,
    max_event_bytes: usize,
) -> Result<Arc<Hosted>, Diagnostic> {
    let hosted = match &entry.isolate {
        // The library is not loaded here: its initializers run in the worker only.
        Some(isolate) => {
            let host = InstanceHost::new(&entry.name, target);
            Hosted::Isolated(Box::new(Isolated::create(entry, isolate, host, max_event_bytes)?))
        }
        None => Hosted::InProcess(create(loader, entry, target)?),
    };
    Ok(Arc::new(hosted))
}

/// Creates one instance; `target` is where a producer's events go (None for consumers).
pub fn create(
    loader: &mut Loader,
    entry: &InstanceConfig,
    target: Option<EmitTarget>,
) -> Result<Arc<Instance>, Diagnostic> {
    let plugin = selection::load(loader, &Wanted::of(entry)).map_err(|refusal| refusal.diagnostic(entry))?;
    let host = InstanceHost::new(&entry.name, target);
    let instance = Instance::create(plugin.clone(), host, &entry.config_json, &entry.config_dir.to_string_lossy())
        .map_err(|e| create_failed(entry, &plugin.name, e))?;
    Ok(Arc::new(instance))
}

/// `on_create` of `plugin` failed for `entry`: the diagnostic, pointing at the config key
/// at fault when an accessor named one. (Also for an isolated instance, whose worker ran it.)
pub fn create_failed(entry: &InstanceConfig, plugin: &str, e: HookError) -> Diagnostic {
    let diagnostic = Diagnostic::new(format!(
        "{} \"{}\" (plugin \"{}\") failed to start: {e}",
        entry.kind.as_str(),
        entry.name,
        plugin
    ));
    // A config accessor named the key at fault: point at its value.
    let file = &entry.name_at.file;
    let key_at = e
        .config_key
        .as_deref()
        .and_then(|key| spans::config_key_span(&file.text, entry.kind, &entry.name, key).map(|span| (key, span)));
    match key_at {
        Some((key, span)) => diagnostic
            .at(Some(Location { file: file.clone(), span }))
            .help(format!("fix `{key}` in this entry's `config` table")),
        None => diagnostic
            .at(Some(entry.config_at.clone().unwrap_or_else(|| entry.name_at.clone())))
            .help(format!("fix this entry's `config` table; {}", received(&entry.config_json))),
    }
}

/// What the plugin was given, by key only: values can hold secrets (a password in a
/// database `url`), and diagnostics end up in logs.
fn received(config_json: &str) -> String {
    let keys: Vec<String> = match serde_json::from_str::<serde_json::Value>(config_json) {
        Ok(serde_json::Value::Object(table)) => table.keys().map(|key| format!("`{key}`")).collect(),
        _ => return "the plugin received no table".into(),
    };
    match keys.len() {
        0 => "the plugin received an empty table".into(),
        1 => format!("the plugin received the key {}", keys[0]),
        _ => format!("the plugin received the keys {}", keys.join(", ")),
    }
}
