//! The child side of the kit: loads the library with the host's loader, runs the checks it
//! was given in order, and reports over a private copy of its stdout (the real stdout now
//! goes to stderr, so a plugin that prints cannot garble the reports). Before each hook it
//! says which one and how long it may take; the parent kills it when that passes.

use std::io::Write;
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{consumer, create, handshake, producer, ChildArgs, Message, PluginInfo, Row, Status};
use crate::config::Kind;
use crate::loader::{EmitTarget, HookError, Instance, InstanceHost, Loader, Plugin};

/// What every check gets: the plugin, its config, the hook timeout and the reporter.
pub struct Ctx {
    pub plugin: Arc<Plugin>,
    /// The config that works (or `{}`).
    pub config: String,
    pub hook_timeout: Duration,
    pub reporter: Reporter,
}

/// A check's outcome before the catalog dresses it.
pub struct Verdict {
    pub status: Status,
    pub note: Option<String>,
}

impl Verdict {
    pub fn pass(note: impl Into<Option<String>>) -> Verdict {
        Verdict { status: Status::Pass, note: note.into() }
    }
    pub fn fail(note: String) -> Verdict {
        Verdict { status: Status::Fail, note: Some(note) }
    }
    pub fn warn(note: String) -> Verdict {
        Verdict { status: Status::Warn, note: Some(note) }
    }
    pub fn skip(note: String) -> Verdict {
        Verdict { status: Status::Skip, note: Some(note) }
    }
}

/// Writes messages to the parent; shared by the threads of a check.
#[derive(Clone)]
pub struct Reporter {
    out: Arc<Mutex<std::fs::File>>,
}

impl Reporter {
    pub fn send(&self, message: &Message) {
        let mut line = serde_json::to_string(message).expect("messages serialize");
        line.push('\n');
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        // A parent that went away cannot be told anything; the child ends with its checks.
        let _ = out.write_all(line.as_bytes());
    }

    /// Calls a hook under the parent's clock: `timeout` from now, or the child is killed.
    pub fn hook<T>(&self, hook: &str, timeout: Duration, call: impl FnOnce() -> T) -> T {
        self.send(&Message::Hook { hook: hook.to_string(), timeout_ms: timeout.as_millis() as u64 });
        let result = call();
        self.send(&Message::Returned);
        result
    }
}

/// `evhost kit-child`: runs the checks and exits 0; a crash or a hang ends it otherwise.
pub fn child(args: ChildArgs) -> ExitCode {
    let reporter = match private_stdout() {
        Ok(out) => Reporter { out: Arc::new(Mutex::new(out)) },
        Err(e) => {
            eprintln!("error: the kit's child cannot set up its report pipe: {e}");
            return ExitCode::from(2);
        }
    };
    let hook_timeout = Duration::from_millis(args.hook_timeout_ms);
    let library = match reporter.hook("evh_library_init", hook_timeout, || Loader::default().load(&args.library)) {
        Ok(library) => library,
        Err(e) => {
            let usage = handshake::is_usage_error(&e);
            reporter.send(&Message::LoadError { message: e.to_string(), help: e.help(), usage });
            return ExitCode::SUCCESS;
        }
    };
    let Some(name) = args.plugin else {
        let plugins =
            library.plugins.iter().map(|p| PluginInfo { name: p.name.clone(), producer: p.kind == Kind::Producer });
        reporter.send(&Message::Plugins(plugins.collect()));
        for check in &args.checks {
            reporter.send(&Message::Begin(check.clone()));
            let verdict = handshake::run(check, &library);
            reporter.send(&Message::Row(Row {
                check: check.clone(),
                status: verdict.status,
                note: verdict.note,
                hook: None,
            }));
        }
        return ExitCode::SUCCESS;
    };
    let Some(plugin) = library.plugins.iter().find(|p| p.name == name).cloned() else {
        eprintln!("error: {} has no plugin \"{name}\"", args.library.display());
        return ExitCode::from(2);
    };
    let ctx = Ctx { plugin, config: args.config, hook_timeout, reporter };
    for check in &args.checks {
        match check.as_str() {
            // One producer's life, reported as three checks (see producer::lifecycle).
            "run" => producer::lifecycle(&ctx),
            "stop" | "after-stop" => {}
            id => {
                ctx.begin(id);
                let verdict = match id {
                    id if id.starts_with("create-") || id == "destroy-at-once" => create::run(id, &ctx),
                    "backpressure" => producer::backpressure(&ctx),
                    id => consumer::run(id, &ctx),
                };
                ctx.row(id, verdict);
            }
        }
    }
    ExitCode::SUCCESS
}

impl Ctx {
    /// Tells the parent a check begins: a crash from here on is this check's.
    pub fn begin(&self, id: &str) {
        self.reporter.send(&Message::Begin(id.to_string()));
    }

    pub fn row(&self, id: &str, verdict: Verdict) {
        self.reporter.send(&Message::Row(Row {
            check: id.to_string(),
            status: verdict.status,
            note: verdict.note,
            hook: None,
        }));
    }

    /// `on_create` under the hook timeout; `target` for a producer's events.
    pub fn create(&self, name: &str, config: &str, target: Option<EmitTarget>) -> Result<Instance, HookError> {
        let host = InstanceHost::new(name, target);
        let dir = std::env::current_dir().map(|d| d.to_string_lossy().into_owned()).unwrap_or_else(|_| ".".into());
        self.reporter.hook("on_create", self.hook_timeout, || Instance::create(self.plugin.clone(), host, config, &dir))
    }

    /// `on_destroy` (the instance's drop) under the hook timeout.
    pub fn destroy(&self, instance: impl Into<Arc<Instance>>) {
        let instance = instance.into();
        self.reporter.hook("on_destroy", self.hook_timeout, move || drop(instance));
    }

    /// `on_stop` under the hook timeout.
    pub fn stop(&self, instance: &Instance) {
        self.reporter.hook("on_stop", self.hook_timeout, || instance.stop());
    }
}

/// A private copy of stdout for the reports; stdout itself then points at stderr.
fn private_stdout() -> std::io::Result<std::fs::File> {
    let copy = std::io::stdout().as_fd().try_clone_to_owned()?;
    nix::unistd::dup2_stdout(std::io::stderr()).map_err(std::io::Error::from)?;
    Ok(std::fs::File::from(copy))
}
