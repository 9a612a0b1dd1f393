//! The `evhost` command line. Exit codes: 0 success, 1 runtime failure, 2 usage, config or
//! load error.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use evhost::diagnostic::Diagnostic;
use evhost::log::Log;
use evhost::report::{Outcome, ShutdownReport};
use evhost::run::{RunError, Source};
use evhost::signals::{crash, ShutdownSignals};
use evhost::{config, inspect, loader, startup};

const EXIT_RUNTIME: u8 = 1;
const EXIT_SETUP: u8 = 2;

/// Hosts event producer and consumer plugins: every event to every consumer, in order.
#[derive(Parser)]
#[command(name = "evhost", version, about)]
struct Cli {
    /// Log level: error, warn, info, debug or trace (or set EVHOST_LOG).
    #[arg(long, global = true, env = "EVHOST_LOG", default_value = "info")]
    log_level: tracing::Level,
    /// Log format: text, or json for one JSON object per line (or set EVHOST_LOG_FORMAT).
    #[arg(long, global = true, env = "EVHOST_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: evhost::logging::Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the plugins of a config until SIGTERM/SIGINT, or until every producer finished;
    /// SIGHUP reloads the config.
    Run {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// At the end, write a JSON report of how each instance ended and what it did.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// Serve /livez, /readyz, /metrics, /v1/status and POST /v1/reload on this address, e.g.
        /// 127.0.0.1:9464 (overrides [admin] listen; keeps its token).
        #[arg(long, value_name = "ADDR")]
        admin: Option<std::net::SocketAddr>,
    },
    /// Validates a config: loads every library and creates and destroys every instance,
    /// without running anything.
    Check {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
    /// The worker process of an isolated plugin (`isolate = true`), started by the host.
    #[command(hide = true)]
    Worker {
        /// The socket the host gave it.
        #[arg(long)]
        fd: i32,
    },
    /// Runs a library's plugins through the conformance checks (the handshake, configs,
    /// deliveries, a producer's run, stop and backpressure) and prints a table. Exits 0 when
    /// every check passes, 1 when one fails, 2 when the library cannot be used at all.
    TestPlugin {
        library: PathBuf,
        /// Only this plugin of the library.
        #[arg(long, value_name = "NAME")]
        plugin: Option<String>,
        /// A config the plugin accepts, as JSON (the `config` table of its entry).
        #[arg(long, value_name = "JSON")]
        config: Option<String>,
        /// Also run each check under valgrind, when it is installed.
        #[arg(long)]
        memcheck: bool,
        /// How long any one hook may take.
        #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
        hook_timeout: Duration,
    },
    /// Writes a new plugin project in C, Rust or Go: `make` builds it, `make test` runs
    /// `evhost test-plugin` on it, and its evhost.toml runs it.
    New {
        #[arg(value_enum)]
        language: evhost::scaffold::Language,
        /// The plugin's name: lowercase letters, digits, '-' or '_'.
        name: String,
        /// A consumer (the default): it receives every event.
        #[arg(long, conflicts_with = "producer")]
        consumer: bool,
        /// A producer: it emits events.
        #[arg(long)]
        producer: bool,
        /// The folder to write (new or empty); ./NAME when absent.
        dir: Option<PathBuf>,
    },
    /// One group of the conformance checks, in a child process of `test-plugin`.
    #[command(hide = true)]
    KitChild(evhost::kit::ChildArgs),
    /// Prints a library's ABI version and plugins.
    Inspect {
        library: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    // Before any thread starts or any plugin loads: see signals.rs.
    let signals = match ShutdownSignals::block() {
        Ok(signals) => signals,
        Err(e) => return runtime_error(&format!("cannot set up signal handling: {e}")),
    };
    if let Err(e) = crash::install() {
        return runtime_error(&format!("cannot install the crash handlers: {e}"));
    }
    let cli = Cli::parse();
    evhost::logging::init(cli.log_level, cli.log_format, std::io::stderr().is_terminal());
    // A worker takes no signals of its own (they stay blocked): its host stops it, and
    // its end comes by the parent-death signal or the socket's close.
    if let Command::Worker { fd } = cli.command {
        crash::silence();
        return evhost::isolate::worker::main(fd);
    }
    // From here on, SIGTERM and SIGINT work whatever a plugin does.
    let watch = match signals.watch() {
        Ok(watch) => watch,
        Err(e) => return runtime_error(&format!("cannot start the signal thread: {e}")),
    };

    match cli.command {
        Command::Run { config, report: report_path, admin } => {
            let mut report = ShutdownReport::default();
            let result = evhost::run::run(Source { path: config, admin }, &watch, &mut report);
            let code = match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(RunError::Setup(e)) => {
                    report.outcome = Outcome::SetupFailed;
                    report.failures.push(e.message.clone());
                    setup_error(e)
                }
                Err(RunError::Runtime(e)) => {
                    tracing::error!("{e}");
                    if report.outcome != Outcome::Failed {
                        report.outcome = Outcome::Failed;
                        report.failures.push(e);
                    }
                    ExitCode::from(EXIT_RUNTIME)
                }
            };
            match report_path.map(|path| (report.write(&path), path)) {
                Some((Err(e), path)) => runtime_error(&format!("cannot write the report {}: {e}", path.display())),
                _ => code,
            }
        }
        Command::Check { config: path } => {
            let checked = config::load(&path).and_then(|config| {
                watch.set_limit(config.drain_timeout, Duration::ZERO);
                // The disk log is not opened: the host it belongs to may be running.
                if let Some(disk) = &config.log.disk {
                    std::fs::create_dir_all(&disk.path).map_err(|e| {
                        Diagnostic::new(format!("cannot use the log folder {}: {e}", disk.path.display()))
                            .help("check that [log] path names a folder this user can create and write")
                    })?;
                }
                let log = Arc::new(Log::new(&config.log));
                let created = startup::create_all(&config, &log, &|| watch.received().is_some())?;
                // An isolated instance whose worker kept dying in on_create.
                let all = created.iter().flat_map(|c| c.consumers.iter().chain(&c.producers));
                if let Some((entry, failure)) = all.filter_map(|(e, i)| Some((e, i.failure()?))).next() {
                    return Err(Diagnostic::new(failure).at(Some(entry.name_at.clone())).help(
                        "its worker dies while creating it, as the lines above say; run it in-process (without `isolate = true`) or under a debugger to see why",
                    ));
                }
                Ok(created.map(|created| (created.producers.len(), created.consumers.len())))
            });
            match checked {
                Ok(Some((producers, consumers))) => {
                    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
                    println!(
                        "{}: OK ({}, {})",
                        path.display(),
                        plural(producers, "producer"),
                        plural(consumers, "consumer")
                    );
                    ExitCode::SUCCESS
                }
                Ok(None) => runtime_error(&format!(
                    "{} received; the check stopped before it finished",
                    watch.received().unwrap_or("a signal")
                )),
                Err(e) => setup_error(e),
            }
        }
        Command::Worker { .. } => unreachable!("a worker returned above"),
        Command::TestPlugin { library, plugin, config, memcheck, hook_timeout } => {
            watch.set_limit(Duration::ZERO, Duration::ZERO);
            let options = evhost::kit::Options { library, plugin, config, memcheck, hook_timeout };
            match evhost::kit::test_plugin(&options) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(EXIT_RUNTIME),
                Err(e) => setup_error(e),
            }
        }
        Command::New { language, name, producer, dir, .. } => {
            let kind = if producer { config::Kind::Producer } else { config::Kind::Consumer };
            let options = evhost::scaffold::Options { language, name, kind, dir };
            match evhost::scaffold::new(&options) {
                Ok(dir) => {
                    println!(
                        "wrote the {} plugin \"{}\" in {}\nnext: cd {} && make test   (EVHOST=... names the host if `evhost` is not on PATH)",
                        kind.as_str(),
                        options.name,
                        dir.display(),
                        dir.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => setup_error(Diagnostic::new(e.to_string()).help(e.help())),
            }
        }
        Command::KitChild(args) => {
            watch.set_limit(Duration::ZERO, Duration::ZERO);
            evhost::kit::child(args)
        }
        Command::Inspect { library, json } => {
            // Nothing to stop in order: a signal ends inspect at once, saying where it was.
            watch.set_limit(Duration::ZERO, Duration::ZERO);
            match loader::Loader::default().load(&library) {
                Ok(library) if json => {
                    println!("{:#}", inspect::json(&library));
                    ExitCode::SUCCESS
                }
                Ok(library) => {
                    print!("{}", inspect::text(&library));
                    ExitCode::SUCCESS
                }
                Err(e) => setup_error(evhost::diagnostic::Diagnostic::new(e.to_string()).help(e.help())),
            }
        }
    }
}

/// A duration in the host's grammar ("5s", "1500ms").
fn parse_duration(text: &str) -> Result<Duration, String> {
    evhost_cloudevents::units::parse_duration(text).map_err(|e| e.to_string())
}

fn runtime_error(message: &str) -> ExitCode {
    evhost::logging::fatal(&format!("error: {message}\n"));
    ExitCode::from(EXIT_RUNTIME)
}

fn setup_error(error: evhost::diagnostic::Diagnostic) -> ExitCode {
    evhost::logging::fatal(&error.to_string());
    ExitCode::from(EXIT_SETUP)
}
