//! The parent side of the kit: plans the checks, runs each group in a child process (the
//! same binary, `evhost kit-child`, optionally under valgrind), keeps every hook under its
//! timeout, and turns a crash or a hang into a failed check. After a child dies, the rest
//! of its group runs in a new child.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use std::os::unix::process::ExitStatusExt;

use nix::sys::signal::Signal;

use super::catalog::{self, Spec};
use super::table::{self, Section};
use super::{Message, Options, PluginInfo, Row, Status};
use crate::diagnostic::Diagnostic;
use crate::files;
use crate::loader::LoadError;

/// How long the kit's own work between two hooks may take before the child counts as hung.
const BETWEEN_HOOKS: Duration = Duration::from_secs(30);
/// Under valgrind everything runs this many times slower.
const VALGRIND_SLOWER: u32 = 20;
/// The exit code valgrind is told to use when it finds memory errors.
const VALGRIND_FOUND: i32 = 97;
/// How much of a child's stderr is kept to explain a failure.
const STDERR_TAIL: usize = 64 << 10;

/// Runs the kit and prints the table. Ok(true) when every check passed (warnings and skips
/// allowed); Err for a usage error (exit 2), with the loader's own message.
pub fn test_plugin(options: &Options) -> Result<bool, Diagnostic> {
    let library = &options.library;
    files::open_regular("library", library, files::LIBRARY_LIMIT).map_err(|e| {
        let e = LoadError::File(e);
        Diagnostic::new(e.to_string()).help(e.help())
    })?;
    let config =
        match &options.config {
            None => None,
            Some(text) => {
                match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(value @ serde_json::Value::Object(_)) => Some(value.to_string()),
                    Ok(_) => return Err(usage(
                        "--config is not a JSON object",
                        "write the plugin's config table as a JSON object, e.g. --config '{\"path\": \"out.jsonl\"}'",
                    )),
                    Err(e) => return Err(usage(
                        format!("--config is not JSON: {e}"),
                        "write the plugin's config table as a JSON object, e.g. --config '{\"path\": \"out.jsonl\"}'",
                    )),
                }
            }
        };
    let memcheck = options.memcheck && valgrind_exists();
    if options.memcheck && !memcheck {
        eprintln!("note: --memcheck: valgrind is not installed, so the checks run without it; install valgrind to look for memory errors too");
    }
    let kit = Kit { options, memcheck };

    let mut sections = Vec::new();
    let loaded = kit.child(None, "{}", &catalog::ids(catalog::LIBRARY));
    if let Some(LoadFailure { message, help, usage: true }) = loaded.load_error {
        return Err(Diagnostic::new(message).help(help));
    }
    let mut rows = loaded.rows;
    let failed_load = |note: String, hook: Option<String>| {
        vec![Row { check: "load".into(), status: Status::Fail, note: Some(note), hook }]
    };
    if let Some(LoadFailure { message, help, .. }) = loaded.load_error {
        rows = failed_load(format!("{message} ({help})"), None);
    } else if let Some(died) = loaded.died {
        // It crashed or hung while loading (its initializers, evh_library_init).
        rows = failed_load(died, loaded.hook);
    }
    let plugins = loaded.plugins.unwrap_or_default();
    sections.push(Section { title: "library".into(), rows });

    let chosen: Vec<&PluginInfo> = match &options.plugin {
        Some(name) => match plugins.iter().find(|p| &p.name == name) {
            Some(plugin) => vec![plugin],
            None => {
                let names = plugins.iter().map(|p| format!("\"{}\"", p.name)).collect::<Vec<_>>().join(", ");
                return Err(usage(
                    format!("{} has no plugin \"{name}\"", library.display()),
                    format!("name one of {names} with --plugin"),
                ));
            }
        },
        None if config.is_some() && plugins.len() > 1 => {
            return Err(usage(
                format!("{} carries {} plugins, and --config is for one of them", library.display(), plugins.len()),
                "name the plugin the config is for with --plugin",
            ))
        }
        // Plugins are reached by name: of two with one name (the `names` check fails), the
        // first is the one a config gets.
        None => {
            let mut seen = std::collections::HashSet::new();
            plugins.iter().filter(|p| seen.insert(p.name.as_str())).collect()
        }
    };
    for plugin in chosen {
        let kind = if plugin.producer { "producer" } else { "consumer" };
        sections.push(Section {
            title: format!("{kind} \"{}\"", plugin.name),
            rows: kit.plugin(plugin, config.as_deref()),
        });
    }
    let under = if kit.memcheck { " (each check under valgrind)" } else { "" };
    print!("{}", table::render(&format!("{}{under}", library.display()), &sections));
    Ok(sections.iter().flat_map(|s| &s.rows).all(|row| row.status != Status::Fail))
}

fn usage(message: impl Into<String>, help: impl Into<String>) -> Diagnostic {
    Diagnostic::new(message).help(help)
}

fn valgrind_exists() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

struct Kit<'a> {
    options: &'a Options,
    memcheck: bool,
}

struct LoadFailure {
    message: String,
    help: String,
    usage: bool,
}

/// What one child reported, and how it ended.
#[derive(Default)]
struct Outcome {
    rows: Vec<Row>,
    plugins: Option<Vec<PluginInfo>>,
    load_error: Option<LoadFailure>,
    /// The check it was in when it ended, if it had begun one and not reported it.
    current: Option<String>,
    /// Why it ended early, if it did.
    died: Option<String>,
    /// The hook it died or hung in, if it was in one.
    hook: Option<String>,
}

impl Kit<'_> {
    /// Every check of one plugin, with `config` (the given one) or `{}`.
    fn plugin(&self, plugin: &PluginInfo, config: Option<&str>) -> Vec<Row> {
        let working = config.unwrap_or("{}");
        let first = if config.is_some() { "create-given" } else { "create-empty" };
        let mut rows = self.group(Some(&plugin.name), working, &[first.to_string()], false);
        // create-empty passes without a note only when it made an instance (see create.rs).
        let created = rows.iter().all(|row| row.status == Status::Pass && (config.is_some() || row.note.is_none()));
        let rest: Vec<String> = catalog::CREATE
            .iter()
            .map(|spec| spec.id.to_string())
            .filter(|id| id != first && id != "create-given")
            .collect();
        rows.extend(self.group(Some(&plugin.name), working, &rest, false));
        let groups: Vec<(&[Spec], bool)> = if plugin.producer {
            vec![(&catalog::PRODUCER[..3], true), (&catalog::PRODUCER[3..], false)]
        } else {
            vec![(catalog::CONSUMER, false)]
        };
        for (specs, chained) in groups {
            let ids = catalog::ids(specs);
            if created {
                rows.extend(self.group(Some(&plugin.name), working, &ids, chained));
            } else {
                let why = "not run: on_create refused the config; give one it accepts with --config '{...}'";
                rows.extend(ids.into_iter().map(|check| Row {
                    check,
                    status: Status::Skip,
                    note: Some(why.into()),
                    hook: None,
                }));
            }
        }
        rows
    }

    /// Runs `checks` in children until each has a row: after a child dies in a check, that
    /// check fails and the rest run in a new child (or, `chained`, are skipped: each step
    /// needs the one before). Under valgrind each check runs alone, so its errors are its own.
    fn group(&self, plugin: Option<&str>, config: &str, checks: &[String], chained: bool) -> Vec<Row> {
        if self.memcheck && !chained && checks.len() > 1 {
            return checks.iter().flat_map(|c| self.group(plugin, config, std::slice::from_ref(c), false)).collect();
        }
        let mut rows: Vec<Row> = Vec::new();
        let mut remaining: Vec<String> = checks.to_vec();
        while !remaining.is_empty() {
            let outcome = self.child(plugin, config, &remaining);
            let reported = |id: &String, rows: &[Row]| rows.iter().any(|row| &row.check == id);
            rows.extend(outcome.rows);
            let Some(died) = outcome.died else {
                for id in remaining.iter().filter(|id| !reported(id, &rows)).cloned().collect::<Vec<_>>() {
                    rows.push(Row {
                        check: id,
                        status: Status::Fail,
                        note: Some("the kit's child ended before this check reported".into()),
                        hook: None,
                    });
                }
                break;
            };
            let culprit = outcome.current.or_else(|| remaining.iter().find(|id| !reported(id, &rows)).cloned());
            let Some(culprit) = culprit else { break };
            rows.retain(|row| row.check != culprit);
            rows.push(Row { check: culprit.clone(), status: Status::Fail, note: Some(died), hook: outcome.hook });
            let after = remaining.iter().position(|id| *id == culprit).map_or(0, |i| i + 1);
            remaining = remaining[after..].iter().filter(|id| !reported(id, &rows)).cloned().collect();
            if chained {
                rows.extend(remaining.drain(..).map(|check| Row {
                    check,
                    status: Status::Skip,
                    note: Some(format!("not run: the process died in `{culprit}`")),
                    hook: None,
                }));
            }
        }
        // The table lists checks in the catalog's order, whatever order they ended in.
        rows.sort_by_key(|row| checks.iter().position(|id| *id == row.check));
        rows
    }

    /// One child process running `checks`.
    fn child(&self, plugin: Option<&str>, config: &str, checks: &[String]) -> Outcome {
        let scale = if self.memcheck { VALGRIND_SLOWER } else { 1 };
        let exe = std::env::current_exe().unwrap_or_else(|_| "evhost".into());
        let mut command = if self.memcheck {
            let mut valgrind = Command::new("valgrind");
            valgrind.args(["--quiet", "--leak-check=no", &format!("--error-exitcode={VALGRIND_FOUND}")]).arg(&exe);
            valgrind
        } else {
            Command::new(&exe)
        };
        command
            .args(["--log-level", "warn", "kit-child"])
            .arg(&self.options.library)
            .args(["--config", config, "--checks", &checks.join(",")])
            .arg(format!("--hook-timeout-ms={}", self.options.hook_timeout.as_millis() * scale as u128));
        if let Some(plugin) = plugin {
            command.args(["--plugin", plugin]);
        }
        let spawned = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                return Outcome {
                    died: Some(format!("the kit cannot start its child process {}: {e}", exe.display())),
                    ..Outcome::default()
                }
            }
        };
        let stderr = tail(child.stderr.take().expect("piped"));
        let (lines, reports) = mpsc::channel();
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut outcome = Outcome::default();
        let mut deadline = Instant::now() + BETWEEN_HOOKS * scale;
        let mut hook: Option<(String, Duration)> = None;
        let hung = loop {
            match reports.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => match serde_json::from_str::<Message>(&line) {
                    Ok(Message::Begin(id)) => outcome.current = Some(id),
                    Ok(Message::Hook { hook: name, timeout_ms }) => {
                        let limit = Duration::from_millis(timeout_ms);
                        deadline = Instant::now() + limit;
                        hook = Some((name, limit));
                    }
                    Ok(Message::Returned) => {
                        deadline = Instant::now() + BETWEEN_HOOKS * scale;
                        hook = None;
                    }
                    Ok(Message::Row(row)) => {
                        if outcome.current.as_ref() == Some(&row.check) {
                            outcome.current = None;
                        }
                        outcome.rows.push(row);
                    }
                    Ok(Message::Plugins(plugins)) => outcome.plugins = Some(plugins),
                    Ok(Message::LoadError { message, help, usage }) => {
                        outcome.load_error = Some(LoadFailure { message, help, usage })
                    }
                    Err(_) => {}
                },
                Err(RecvTimeoutError::Timeout) => break true,
                Err(RecvTimeoutError::Disconnected) => break false,
            }
        };
        if hung {
            // Our own child, by its handle; it is waited for just below.
            let _ = child.kill();
        }
        let status = child.wait().ok();
        let (code, signal) = (status.and_then(|s| s.code()), status.and_then(|s| s.signal()));
        let stderr = stderr.join().unwrap_or_default();
        let within = |what: &str| match &hook {
            Some((name, _)) => format!("{what} in {name}"),
            None => what.to_string(),
        };
        outcome.hook = hook.as_ref().map(|(name, _)| name.clone());
        outcome.died = match (hung, code, signal) {
            (true, ..) => Some(match &hook {
                Some((name, limit)) => format!("{name} did not return within {limit:?}; the kit killed the process"),
                None => {
                    format!("the check made no progress for {:?}; the kit killed the process", BETWEEN_HOOKS * scale)
                }
            }),
            (false, _, Some(signal)) => Some(crash_line(&stderr).unwrap_or_else(|| {
                let name =
                    Signal::try_from(signal).map_or_else(|_| format!("signal {signal}"), |s| s.as_str().to_string());
                within(&format!("the process died of {name}"))
            })),
            (false, Some(VALGRIND_FOUND), _) if self.memcheck => {
                for row in &mut outcome.rows {
                    row.status = Status::Fail;
                    row.note = Some(format!("valgrind found memory errors: {}", valgrind_errors(&stderr)));
                    row.hook = Some("memory".into());
                }
                None
            }
            (false, Some(0), _) if outcome.current.is_none() => None,
            (false, Some(code), _) => Some(within(&format!("the process exited with code {code}"))),
            (false, None, None) => Some("the kit lost track of its child process".into()),
        };
        outcome
    }
}

/// The crash handler's line, without its "error: " and its ending.
fn crash_line(stderr: &str) -> Option<String> {
    let line = stderr.lines().rev().find(|line| line.starts_with("error: SIG"))?;
    let line = line.trim_start_matches("error: ");
    let line = line.trim_end_matches("; the process dies of this signal");
    Some(format!("the process died: {line}"))
}

/// valgrind's first error, in a few lines.
fn valgrind_errors(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| {
            line.starts_with("==") && line.split_once("== ").is_some_and(|(_, rest)| !rest.trim().is_empty())
        })
        .map(|line| line.split_once("== ").map_or(line, |(_, rest)| rest).trim())
        .take(4)
        .collect();
    if lines.is_empty() {
        "see valgrind's report on stderr".into()
    } else {
        lines.join(" / ")
    }
}

/// Reads a child's stderr to its end on a thread of its own, keeping the last bytes.
fn tail(mut stderr: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut kept: VecDeque<u8> = VecDeque::new();
        let mut buffer = [0u8; 8192];
        while let Ok(n) = stderr.read(&mut buffer) {
            if n == 0 {
                break;
            }
            kept.extend(&buffer[..n]);
            let excess = kept.len().saturating_sub(STDERR_TAIL);
            kept.drain(..excess);
        }
        String::from_utf8_lossy(kept.make_contiguous()).into_owned()
    })
}
