//! Errors a plugin returns to the SDK (`Error`) and errors `emit` returns to a plugin
//! (`EmitError`). Statuses from the host are read as integers; an unknown one stays a number.

use std::fmt;

use evhost_abi::{evh_status, EVH_BUSY, EVH_ERR_CONFIG, EVH_ERR_INVALID_ARGUMENT, EVH_ERR_TOO_LARGE, EVH_STOPPED};

/// An error from a plugin's `create` or `run`: a message for the host's log and, optionally,
/// the status to return.
///
/// Without an explicit status the SDK returns `EVH_ERR_CONFIG` from `create` and
/// `EVH_ERR_INTERNAL` from `run`. Write the message without the plugin's name: the host names
/// the instance and the plugin in every line about it, and the SDK adds nothing. Any `std::error::Error` converts with `?`; its sources are appended
/// to the message.
pub struct Error {
    status: Option<evh_status>,
    message: String,
    /// A config mistake serde found, for the host's accessor to report with its caret.
    issue: Option<Box<crate::config::Issue>>,
}

impl Error {
    /// An error with this message and the hook's default status.
    pub fn new(message: impl Into<String>) -> Self {
        Error { status: None, message: message.into(), issue: None }
    }

    /// An error with an explicit status, such as `EVH_ERR_UNSUPPORTED`.
    pub fn with_status(status: evh_status, message: impl Into<String>) -> Self {
        Error { status: Some(status), message: message.into(), issue: None }
    }

    /// A configuration error (`EVH_ERR_CONFIG`).
    pub fn config(message: impl Into<String>) -> Self {
        Self::with_status(EVH_ERR_CONFIG, message)
    }

    /// The message, as the host will show it after the instance's and the plugin's names.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn with_issue(mut self, issue: crate::config::Issue) -> Self {
        self.issue = Some(Box::new(issue));
        self
    }

    pub(crate) fn issue(&self) -> Option<&crate::config::Issue> {
        self.issue.as_deref()
    }

    /// The explicit status, if one was given.
    pub fn status(&self) -> Option<evh_status> {
        self.status
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({:?}, {:?})", self.status, self.message)
    }
}

impl<E: std::error::Error + 'static> From<E> for Error {
    fn from(err: E) -> Self {
        let status = (&err as &dyn std::any::Any).downcast_ref::<EmitError>().map(EmitError::status);
        let mut message = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Error { status, message, issue: None }
    }
}

/// Why `Emitter::emit` or `Emitter::try_emit` accepted nothing of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmitError {
    /// `EVH_BUSY`: the log is full (only from `try_emit`). Try again later.
    Busy,
    /// `EVH_STOPPED`: the host accepts nothing more, or the instance is gone. Return from `run`.
    Stopped,
    /// `EVH_ERR_INVALID_ARGUMENT`: an event is malformed; the message says which, when the SDK
    /// found it, or points to the host's log when the host did.
    Invalid(String),
    /// `EVH_ERR_TOO_LARGE`: an event is larger than the host's `max_event_bytes`, or the
    /// batch is larger than the whole log (`[log] capacity` or `max_bytes`) and can never
    /// fit. The host's log says which; one event alone is always the first.
    TooLarge,
    /// Any other status, kept as the number the host returned.
    Other(evh_status),
}

impl EmitError {
    /// The status this error stands for.
    pub fn status(&self) -> evh_status {
        match self {
            EmitError::Busy => EVH_BUSY,
            EmitError::Stopped => EVH_STOPPED,
            EmitError::Invalid(_) => EVH_ERR_INVALID_ARGUMENT,
            EmitError::TooLarge => EVH_ERR_TOO_LARGE,
            EmitError::Other(status) => *status,
        }
    }

    /// Reads a non-OK status the host returned.
    pub(crate) fn from_status(status: evh_status) -> Self {
        match status {
            EVH_BUSY => EmitError::Busy,
            EVH_STOPPED => EmitError::Stopped,
            EVH_ERR_INVALID_ARGUMENT => EmitError::Invalid("the host rejected an event (its log says why)".into()),
            EVH_ERR_TOO_LARGE => EmitError::TooLarge,
            other => EmitError::Other(other),
        }
    }
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmitError::Busy => f.write_str("emit: the log is full (EVH_BUSY)"),
            EmitError::Stopped => f.write_str("emit: the host is stopping (EVH_STOPPED)"),
            EmitError::Invalid(why) => write!(f, "emit: invalid event: {why}"),
            EmitError::TooLarge => f.write_str(
                "emit: too large for the host (EVH_ERR_TOO_LARGE): an event over [host] max_event_bytes, or a batch larger than the whole log ([log] capacity / max_bytes)",
            ),
            EmitError::Other(status) => {
                write!(f, "emit: failed with {} ({status})", evhost_abi::status_name(*status))
            }
        }
    }
}

impl std::error::Error for EmitError {}
