//! How a worker ended, in words: the signal or exit code, and "out of memory" when that is
//! what it looks like. The worker is reaped with wait4(2) rather than `Child::wait`, for
//! its peak resident memory: a worker limited by `max_memory` (RLIMIT_DATA) that runs out
//! does not get a signal of its own, its allocation fails, and the plugin then aborts,
//! segfaults on the NULL it got, or exits. A peak near the limit tells that apart from an
//! ordinary crash.

use std::time::Duration;

use nix::libc;
use nix::sys::signal::Signal;

/// Why a worker is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Death {
    /// Killed by the host: its hook ran past `hook_timeout`.
    Hung { after: Duration },
    /// It ended by itself: a signal, or an exit code.
    Ended { signal: Option<i32>, code: Option<i32>, peak_bytes: u64 },
    /// It broke the protocol (a malformed frame, an answer to nothing), and was killed.
    Broken(String),
    /// Restarted, its `on_create` failed (the hook's error, in words); the worker ended.
    Refused(String),
}

impl Death {
    /// The words for a log line: "killed by SIGSEGV", "out of memory (max_memory = ...)".
    pub fn describe(&self, max_memory: Option<u64>) -> String {
        match self {
            Death::Hung { after, .. } => format!("hung: it ran past its hook_timeout of {after:?} and was killed"),
            Death::Broken(what) => format!("it broke the worker protocol ({what}) and was killed"),
            Death::Refused(error) => format!("it failed: {error}"),
            Death::Ended { signal, code, peak_bytes } => {
                let how = match (signal, code) {
                    (Some(signal), _) => match Signal::try_from(*signal) {
                        Ok(Signal::SIGKILL) => {
                            "killed by SIGKILL (by the kernel's OOM killer, or another process)".to_string()
                        }
                        Ok(signal) => format!("killed by {}", signal.as_str()),
                        Err(_) => format!("killed by signal {signal}"),
                    },
                    (None, Some(code)) => format!("exited with code {code}"),
                    (None, None) => "ended".to_string(),
                };
                match max_memory {
                    // Resident memory is mostly memory the limit counts; half of the limit
                    // in use is more than any worker's own overhead.
                    Some(limit) if *peak_bytes >= limit / 2 => format!(
                        "out of memory: {how} with {} resident, near its max_memory of {}",
                        mib(*peak_bytes),
                        mib(limit)
                    ),
                    _ => how,
                }
            }
        }
    }

    /// The short reason for the restart counter's label.
    pub fn label(&self, max_memory: Option<u64>) -> &'static str {
        match self {
            Death::Hung { .. } => "hung",
            Death::Broken(_) => "protocol",
            Death::Refused(_) => "create_failed",
            Death::Ended { peak_bytes, .. } if max_memory.is_some_and(|limit| *peak_bytes >= limit / 2) => {
                "out_of_memory"
            }
            Death::Ended { signal: Some(_), .. } => "signal",
            Death::Ended { .. } => "exit",
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{}MiB", bytes >> 20)
}

/// Waits for the worker `pid` to end and says how it did. Call once per worker, and never
/// signal its pid afterwards: it may belong to another process by then.
pub fn reap(pid: u32) -> Death {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of the plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 with valid out-pointers, for a child of this process that nothing
        // else waits for (the host keeps its `Child` only to hold the pid).
        let reaped = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
        if reaped >= 0 {
            break;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return Death::Ended { signal: None, code: None, peak_bytes: 0 };
        }
    }
    let peak_bytes = (usage.ru_maxrss as u64).saturating_mul(1024);
    if libc::WIFSIGNALED(status) {
        Death::Ended { signal: Some(libc::WTERMSIG(status)), code: None, peak_bytes }
    } else {
        Death::Ended { signal: None, code: Some(libc::WEXITSTATUS(status)), peak_bytes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deaths_read_as_what_happened() {
        let segv = Death::Ended { signal: Some(libc::SIGSEGV), code: None, peak_bytes: 8 << 20 };
        assert_eq!(segv.describe(None), "killed by SIGSEGV");
        assert_eq!(segv.describe(Some(512 << 20)), "killed by SIGSEGV");
        let big = Death::Ended { signal: Some(libc::SIGABRT), code: None, peak_bytes: 60 << 20 };
        assert_eq!(
            big.describe(Some(64 << 20)),
            "out of memory: killed by SIGABRT with 60MiB resident, near its max_memory of 64MiB"
        );
        assert_eq!(big.label(Some(64 << 20)), "out_of_memory");
        let exit = Death::Ended { signal: None, code: Some(3), peak_bytes: 0 };
        assert_eq!(exit.describe(None), "exited with code 3");
        let hung = Death::Hung { after: Duration::from_secs(1) };
        assert_eq!(hung.describe(None), "hung: it ran past its hook_timeout of 1s and was killed");
    }
}
