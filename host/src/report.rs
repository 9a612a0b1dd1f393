//! The shutdown report (`evhost run --report FILE`): what each instance did and how it
//! ended, as JSON, for operators and for tests that would otherwise parse log lines. The run
//! fills it as it goes; `main` writes it whatever the outcome, setup errors included.

use serde::Serialize;

use crate::delivery::Report as Delivery;

/// How the whole run ended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything drained and stopped; exit 0.
    #[default]
    Clean,
    /// A signal came while instances were being created; nothing ran; exit 0.
    StoppedWhileStarting,
    /// Something failed while running (see `failures`); exit 1.
    Failed,
    /// The config, a library or an instance's creation failed; nothing ran; exit 2.
    SetupFailed,
}

#[derive(Debug, Default, Serialize)]
pub struct ShutdownReport {
    pub outcome: Outcome,
    /// Each failure, as the error log line says it.
    pub failures: Vec<String>,
    /// The instances reloads removed or replaced come first, as they went; then those
    /// running at the end, in config order.
    pub producers: Vec<ProducerReport>,
    pub consumers: Vec<ConsumerReport>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProducerState {
    /// Still running when the host stopped it, and it stopped.
    Stopped,
    /// Finished by itself.
    Finished,
    /// `on_run` or `on_start` failed.
    Failed,
    /// Did not stop within the drain timeout.
    DidNotStop,
    /// A reload removed or replaced it, and it stopped.
    Removed,
}

#[derive(Debug, Serialize)]
pub struct ProducerReport {
    pub name: String,
    pub state: ProducerState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsumerState {
    /// Received everything the log accepted (or dead-lettered or lost it, as counted).
    Drained,
    /// Did not drain within the drain timeout; `pending` events never reached it.
    NotDrained,
    /// A reload removed or replaced it, and it drained (removed: up to the newest event
    /// at the reload; replaced: the batch it held, the rest going to its successor).
    Removed,
}

#[derive(Debug, Serialize)]
pub struct ConsumerReport {
    pub name: String,
    pub state: ConsumerState,
    #[serde(flatten)]
    pub delivery: Delivery,
    /// Events the log accepted that it never received (with `not_drained`).
    pub pending: u64,
}

impl ProducerReport {
    pub fn failed(&mut self, error: String) {
        self.state = ProducerState::Failed;
        self.error = Some(error);
    }
}

impl ShutdownReport {
    /// Writes the report to `path` as pretty JSON.
    pub fn write(&self, path: &std::path::Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text + "\n")
    }
}
