//! Shutdown signals. SIGTERM and SIGINT are blocked in the main thread before any other
//! thread starts or any plugin loads, so every thread, Go's included, inherits the block;
//! one thread takes them with sigwait. No handler runs on a plugin's stack, and a plugin
//! that installs its own handler (Go's `signal.Notify`) cannot take them from the host.

use nix::sys::signal::{SigSet, Signal};

/// The shutdown signals, blocked in this thread (call it first in `main`).
pub struct ShutdownSignals(SigSet);

impl ShutdownSignals {
    pub fn block() -> std::io::Result<Self> {
        let mut set = SigSet::empty();
        set.add(Signal::SIGTERM);
        set.add(Signal::SIGINT);
        set.thread_block().map_err(std::io::Error::from)?;
        Ok(ShutdownSignals(set))
    }

    /// Waits for the next SIGTERM or SIGINT and returns its name.
    pub fn wait(&self) -> &'static str {
        match self.0.wait() {
            Ok(signal) => signal.as_str(),
            Err(_) => "SIGTERM",
        }
    }
}
