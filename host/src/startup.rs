//! From config entries to live instances: load each library once, pick the named plugin,
//! check its kind, and call `on_create`. Used by `run` and by `check`. Every failure is a
//! [`Diagnostic`] pointing at the config entry at fault.

use std::sync::Arc;

use crate::config::{spans, suggest, Config, InstanceConfig, Kind};
use crate::diagnostic::{Diagnostic, Location};
use crate::hosted::Hosted;
use crate::isolate::Isolated;
use crate::loader::{EmitTarget, HookError, Instance, InstanceHost, Loader, Plugin};
use crate::log::Log;

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
    let mut instances = Instances { consumers: Vec::new(), producers: Vec::new() };
    for entry in &config.consumers {
        if stopping() {
            return Ok(None);
        }
        let instance = host(loader, entry, None, config.max_event_bytes)?;
        instances.consumers.push((entry.clone(), instance));
    }
    for entry in &config.producers {
        if stopping() {
            return Ok(None);
        }
        let target = EmitTarget::log(log.clone(), config.max_event_bytes);
        let instance = host(loader, entry, Some(target), config.max_event_bytes)?;
        instances.producers.push((entry.clone(), instance));
    }
    if stopping() {
        return Ok(None);
    }
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    Ok(Some(instances))
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
    let library = loader
        .load(&entry.library)
        .map_err(|e| Diagnostic::new(e.to_string()).at(Some(entry.library_at.clone())).help(e.help()))?;
    let plugin = select(&library.plugins, entry)?;
    if plugin.kind != entry.kind {
        return Err(Diagnostic::new(format!(
            "plugin \"{}\" is a {}, but \"{}\" is listed as a [[{}]]",
            plugin.name,
            plugin.kind,
            entry.name,
            entry.kind.as_str()
        ))
        .at(Some(entry.plugin_at.clone().unwrap_or_else(|| entry.library_at.clone())))
        .help(match plugin.kind {
            Kind::Producer => "move this entry to a [[producer]] table, or name one of the library's consumers",
            Kind::Consumer => "move this entry to a [[consumer]] table, or name one of the library's producers",
        }));
    }
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

fn select<'a>(plugins: &'a [Arc<Plugin>], entry: &InstanceConfig) -> Result<&'a Arc<Plugin>, Diagnostic> {
    let names = || plugins.iter().map(|p| format!("\"{}\" ({})", p.name, p.kind)).collect::<Vec<_>>().join(", ");
    let path = entry.library.display();
    match &entry.plugin {
        Some(name) => plugins.iter().find(|p| &p.name == name).ok_or_else(|| {
            let help = match suggest::closest(name, plugins.iter().map(|p| p.name.as_str())) {
                Some(best) => format!("did you mean \"{best}\"? It carries {}", names()),
                None => format!("it carries {}; `evhost inspect {path}` lists them", names()),
            };
            Diagnostic::new(format!("library {path} has no plugin \"{name}\"")).at(entry.plugin_at.clone()).help(help)
        }),
        None if plugins.len() == 1 => Ok(&plugins[0]),
        None if plugins.is_empty() => Err(Diagnostic::new(format!("library {path} carries no plugins"))
            .at(Some(entry.library_at.clone()))
            .help("rebuild it with at least one plugin registered")),
        None => {
            let fitting: Vec<&Arc<Plugin>> = plugins.iter().filter(|p| p.kind == entry.kind).collect();
            let help = match fitting.as_slice() {
                [only] => format!("add `plugin = \"{}\"`, its only {}", only.name, entry.kind.as_str()),
                _ => format!("add `plugin = \"...\"` naming one of {}", names()),
            };
            Err(Diagnostic::new(format!(
                "library {path} carries {} plugins, and \"{}\" does not say which one",
                plugins.len(),
                entry.name
            ))
            .at(Some(entry.name_at.clone()))
            .help(help))
        }
    }
}
