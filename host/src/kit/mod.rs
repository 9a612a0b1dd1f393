//! `evhost test-plugin`: the conformance kit. It runs a library's plugins through what the
//! host may do to them (the handshake, `on_create` with good and bad configs, deliveries of
//! every shape, a producer's run, stop and backpressure) and prints a table: each check,
//! pass or fail, and for a failure what the plugin did, what the ABI says and how to fix it.
//!
//! The checks run in child processes, the same binary with the hidden `kit-child`
//! subcommand, using the host's own loader and log: a plugin that crashes or hangs fails
//! the check it was in, and the kit goes on with the next one in a new child. The parent
//! ([`runner`]) keeps every hook under a timeout; the child ([`child`]) announces each hook
//! before it calls it.

mod catalog;
mod child;
mod consumer;
mod create;
mod events;
mod handshake;
mod producer;
mod runner;
mod table;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use child::child;
pub use runner::test_plugin;

/// What `evhost test-plugin` was asked to do.
pub struct Options {
    pub library: PathBuf,
    /// Only this plugin of the library.
    pub plugin: Option<String>,
    /// The config that works for the plugin (JSON text); `{}` when none is given.
    pub config: Option<String>,
    /// Run the children under valgrind.
    pub memcheck: bool,
    /// How long any one hook may take.
    pub hook_timeout: Duration,
}

/// What `evhost kit-child` is asked to run: some checks of one plugin (or of the library).
#[derive(Debug, Clone, clap::Args)]
pub struct ChildArgs {
    pub library: PathBuf,
    #[arg(long)]
    pub plugin: Option<String>,
    #[arg(long, default_value = "{}")]
    pub config: String,
    /// Check ids, comma-separated, in order.
    #[arg(long, value_delimiter = ',')]
    pub checks: Vec<String>,
    #[arg(long)]
    pub hook_timeout_ms: u64,
}

/// A check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    /// Allowed by the ABI, but likely a mistake (e.g. an unknown config key accepted).
    Warn,
    /// Not run, and why is in the note (e.g. no config that works was given).
    Skip,
    Fail,
}

/// One row of the table, as the child reports it; the catalog adds the title, what the ABI
/// says and the fix.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub check: String,
    pub status: Status,
    /// What the plugin did: on a pass a short note (`stopped in 3 ms`), otherwise the fault.
    pub note: Option<String>,
    /// The hook the process died or hung in, when that ended the check: the table then
    /// explains that hook rather than the check.
    #[serde(default)]
    pub hook: Option<String>,
}

/// What a child writes to the parent, one JSON object per line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Message {
    /// The library's plugins (the handshake's answer).
    Plugins(Vec<PluginInfo>),
    /// The library could not be used at all.
    LoadError {
        message: String,
        help: String,
        usage: bool,
    },
    /// A check begins.
    Begin(String),
    /// A hook is about to be called; the parent allows it `timeout_ms`.
    Hook {
        hook: String,
        timeout_ms: u64,
    },
    /// The hook returned.
    Returned,
    Row(Row),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PluginInfo {
    pub name: String,
    pub producer: bool,
}
