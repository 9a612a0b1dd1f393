//! The `evhost` command line. Exit codes: 0 success, 1 runtime failure, 2 usage, config or
//! load error.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use evhost::bus::Bus;
use evhost::run::RunError;
use evhost::signals::ShutdownSignals;
use evhost::{config, inspect, instances, loader};

const EXIT_RUNTIME: u8 = 1;
const EXIT_SETUP: u8 = 2;

/// Hosts event producer and consumer plugins: every event to every consumer, in order.
#[derive(Parser)]
#[command(name = "evhost", version, about)]
struct Cli {
    /// Log level: error, warn, info, debug or trace (or set EVHOST_LOG).
    #[arg(long, global = true, env = "EVHOST_LOG", default_value = "info")]
    log_level: tracing::Level,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the plugins of a config until SIGTERM/SIGINT, or until every producer finished.
    Run {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Validates a config: loads every library and creates and destroys every instance,
    /// without running anything.
    Check {
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
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
        Err(e) => {
            eprintln!("error: cannot set up signal handling: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let cli = Cli::parse();
    let colors = std::io::stderr().is_terminal();
    tracing_subscriber::fmt()
        .with_max_level(cli.log_level)
        .with_writer(std::io::stderr)
        .with_ansi(colors)
        .with_target(false)
        .init();

    match cli.command {
        Command::Run { config } => {
            let config = match config::load(&config) {
                Ok(config) => config,
                Err(e) => return setup_error(e),
            };
            match evhost::run::run(config, signals) {
                Ok(()) => ExitCode::SUCCESS,
                Err(RunError::Setup(e)) => setup_error(e),
                Err(RunError::Runtime(e)) => {
                    tracing::error!("{e}");
                    ExitCode::from(EXIT_RUNTIME)
                }
            }
        }
        Command::Check { config: path } => {
            let checked = config::load(&path).and_then(|config| {
                let bus = Arc::new(Bus::new(&config.log));
                let created = instances::create_all(&config, &bus)?;
                Ok((created.producers.len(), created.consumers.len()))
            });
            match checked {
                Ok((producers, consumers)) => {
                    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
                    println!(
                        "{}: OK ({}, {})",
                        path.display(),
                        plural(producers, "producer"),
                        plural(consumers, "consumer")
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => setup_error(e),
            }
        }
        Command::Inspect { library, json } => match loader::Loader::default().load(&library) {
            Ok(library) if json => {
                println!("{:#}", inspect::json(&library));
                ExitCode::SUCCESS
            }
            Ok(library) => {
                print!("{}", inspect::text(&library));
                ExitCode::SUCCESS
            }
            Err(e) => setup_error(evhost::diagnostic::Diagnostic::new(e.to_string()).help(e.help())),
        },
    }
}

fn setup_error(error: evhost::diagnostic::Diagnostic) -> ExitCode {
    eprint!("{error}");
    ExitCode::from(EXIT_SETUP)
}
