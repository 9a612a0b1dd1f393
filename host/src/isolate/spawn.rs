//! Starting a worker process: this same binary (`/proc/self/exe`), `evhost worker --fd 3`, with one end of a
//! socket pair as its fd 3, its data memory limited to `max_memory`, and a parent-death
//! signal, so that no worker outlives the host (not even a host killed with SIGKILL).
//!
//! Workers are started from one thread that lives as long as the process: Linux sends the
//! parent-death signal when the *thread* that forked the child ends, not the process, and
//! the threads that restart workers (delivery lanes, producer threads) come and go.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, OnceLock};

use nix::libc;

/// The fd the worker finds its socket at.
pub const WORKER_FD: i32 = 3;

/// A started worker: the process and the host's end of its socket.
pub struct Spawned {
    pub child: Child,
    pub socket: UnixStream,
}

type Request = (Command, Sender<io::Result<Child>>);

/// The spawning thread's inbox, started on first use.
static SPAWNER: OnceLock<Mutex<Sender<Request>>> = OnceLock::new();

fn spawner() -> io::Result<Sender<Request>> {
    if let Some(sender) = SPAWNER.get() {
        return Ok(sender.lock().unwrap_or_else(|e| e.into_inner()).clone());
    }
    let (sender, inbox) = mpsc::channel::<Request>();
    std::thread::Builder::new().name("spawn-workers".into()).spawn(move || {
        for (mut command, reply) in inbox {
            let _ = reply.send(command.spawn());
        }
    })?;
    // Two threads racing here both start a spawner; the loser's ends when its sender drops.
    let sender = SPAWNER.get_or_init(|| Mutex::new(sender));
    Ok(sender.lock().unwrap_or_else(|e| e.into_inner()).clone())
}

/// Starts a worker. `max_memory` limits its data memory (RLIMIT_DATA: the private writable
/// mappings, heap, anonymous maps and thread stacks, not address space merely reserved).
pub fn spawn(max_memory: Option<u64>) -> io::Result<Spawned> {
    let (ours, theirs) = UnixStream::pair()?;
    // The running binary itself, even when its file was replaced meanwhile (an upgrade
    // under a running host): a restarted worker speaks the host's protocol. Named as the
    // host is, for `ps`.
    let mut command = Command::new("/proc/self/exe");
    command.arg0(std::env::current_exe().map_or_else(|_| "evhost".into(), |exe| exe.into_os_string()));
    let level = tracing::level_filters::LevelFilter::current().into_level().unwrap_or(tracing::Level::ERROR);
    command
        .arg("--log-level")
        .arg(level.as_str().to_ascii_lowercase())
        .arg("--log-format")
        .arg(crate::logging::format_name())
        .arg("worker")
        .arg("--fd")
        .arg(WORKER_FD.to_string())
        .stdin(Stdio::null());
    let fd = theirs.as_raw_fd();
    let host = std::process::id();
    // SAFETY: the closure runs in the child between fork and exec, and calls only
    // async-signal-safe functions (prctl, getppid, fcntl, dup2, setrlimit), allocating nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The host may have died before prctl: then the signal never comes.
            if libc::getppid() as u32 != host {
                return Err(io::Error::other("the host ended while the worker started"));
            }
            // dup2 onto itself would keep close-on-exec set, as every std socket has it.
            let moved = if fd == WORKER_FD { libc::fcntl(fd, libc::F_SETFD, 0) } else { libc::dup2(fd, WORKER_FD) };
            if moved < 0 {
                return Err(io::Error::last_os_error());
            }
            if let Some(bytes) = max_memory {
                let limit = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
                if libc::setrlimit(libc::RLIMIT_DATA, &limit) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let (reply, answer) = mpsc::channel();
    spawner()?.send((command, reply)).map_err(|_| io::Error::other("the worker spawning thread is gone"))?;
    let child = answer.recv().map_err(|_| io::Error::other("the worker spawning thread is gone"))??;
    drop(theirs);
    Ok(Spawned { child, socket: ours })
}
