//! Crashes. A segfault or abort in plugin code kills the whole process; before it dies, one
//! line on stderr names the signal and, when the crashing thread was inside plugin code, the
//! instance, the library and the hook (see `loader::crash_note`). Then the signal's default
//! action is restored and the signal raised again, so the process dies of it as before and
//! its exit status still shows which signal it was.
//!
//! The handlers are installed before any plugin loads, with SA_ONSTACK. That order matters
//! for Go: a Go library's runtime installs its own handlers when it loads and forwards the
//! signals that are not its own (a crash in C code) to the handler that was there before.
//!
//! Inside a handler only async-signal-safe things happen: loads, a copy into a stack
//! buffer, write(2), sigaction(2), raise(3). No allocation, no lock, no formatting.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::libc;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// The signals a crash ends with.
const FATAL: [Signal; 5] = [Signal::SIGSEGV, Signal::SIGBUS, Signal::SIGILL, Signal::SIGFPE, Signal::SIGABRT];

/// Set in an isolated plugin's worker: its host reports the death (with the hook it asked
/// for), and the line "the process dies" would be wrong there, the host living on, and not
/// in the host's log format.
static SILENT: AtomicBool = AtomicBool::new(false);

/// The crash line is not written; the process still dies of the signal.
pub fn silence() {
    SILENT.store(true, Ordering::Relaxed);
}

/// Installs the crash handlers. Call it before any plugin loads.
pub fn install() -> std::io::Result<()> {
    let action =
        SigAction::new(SigHandler::SigAction(on_crash), SaFlags::SA_SIGINFO | SaFlags::SA_ONSTACK, SigSet::empty());
    for signal in FATAL {
        // SAFETY: `on_crash` is async-signal-safe (see the module doc).
        unsafe { sigaction(signal, &action) }.map_err(std::io::Error::from)?;
    }
    Ok(())
}

extern "C" fn on_crash(number: libc::c_int, _info: *mut libc::siginfo_t, _context: *mut libc::c_void) {
    if SILENT.load(Ordering::Relaxed) {
        // SAFETY: as below: the default action, then the signal again.
        unsafe {
            libc::signal(number, libc::SIG_DFL);
            libc::raise(number);
        }
        return;
    }
    let name = Signal::try_from(number).map_or("a fatal signal", Signal::as_str);
    let note: &[u8] = match crate::loader::crash_note() {
        Some(note) => note,
        None => b" outside any plugin hook; the process dies of this signal\n",
    };
    let mut line = [0u8; 1024];
    let mut len = 0;
    for part in [b"error: ".as_slice(), name.as_bytes(), note] {
        let take = part.len().min(line.len() - len);
        line[len..len + take].copy_from_slice(&part[..take]);
        len += take;
    }
    // The note ends the line, and it may have been cut short.
    line[len - 1] = b'\n';
    // SAFETY: write(2) of a valid stack buffer; whatever it returns, nothing more can be done.
    let _ = unsafe { libc::write(libc::STDERR_FILENO, line.as_ptr().cast(), len) };
    // The default action, then the same signal again: the process dies of it. Set explicitly
    // rather than with SA_RESETHAND, because a Go runtime forwarding to this handler keeps its
    // own handler installed, and raising into that would come back here.
    // SAFETY: sigaction(2) and raise(3) are async-signal-safe; SIG_DFL takes no code of ours.
    unsafe {
        libc::signal(number, libc::SIG_DFL);
        libc::raise(number);
    }
}
