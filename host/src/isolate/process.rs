//! One running worker as the host sees it: its pid and its socket. Starting it is the
//! handshake and the instance's creation; after that, [`Process::call`] sends a frame and
//! waits for the answer up to the hook's timeout. A worker that does not answer in time is
//! killed; one whose socket closes has died. Either way it is reaped once, and the caller
//! gets a [`Death`] saying how it ended.

use std::io::{self, BufReader, ErrorKind};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use nix::libc;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::death::{reap, Death};
use super::protocol::{receive, send, Create, Message, PROTOCOL};
use super::spawn::spawn;

/// A live worker. Dropping it closes the socket (the worker then destroys its instance and
/// exits) and reaps it, killing it when it takes longer than `linger`.
pub struct Process {
    pub pid: u32,
    socket: UnixStream,
    /// The same socket, buffered for reading: a frame usually takes one system call.
    reader: BufReader<UnixStream>,
    /// Scratch space for frames, kept between calls.
    out: Vec<u8>,
    input: Vec<u8>,
    /// How long `on_destroy` may take when the worker is let go.
    pub linger: Duration,
    /// The socket's read timeout as last set: set again only when it changes, which spares
    /// a system call per batch.
    read_timeout: Option<Option<Duration>>,
    reaped: bool,
}

/// Why a worker could not be started.
pub enum StartError {
    /// The plugin said no: the library did not load, or `on_create` failed. The fields of
    /// `Message::Refused`; not worth a restart, it would say no again.
    Refused { status: i32, plugin: String, message: String, help: String, config_key: String },
    /// The worker could not be started, or died while starting.
    Died(Death),
    /// The process could not be started at all.
    Spawn(io::Error),
}

/// What the worker's plugin is.
pub struct Created {
    pub plugin: String,
    pub on_run: bool,
    pub on_committed: bool,
}

impl Process {
    /// Starts a worker and creates the instance in it; `timeout` bounds the handshake and
    /// `on_create` together.
    pub fn start(create: Create, max_memory: Option<u64>, timeout: Duration) -> Result<(Process, Created), StartError> {
        let spawned = spawn(max_memory).map_err(StartError::Spawn)?;
        let reader = BufReader::with_capacity(1 << 16, spawned.socket.try_clone().map_err(StartError::Spawn)?);
        let mut process = Process {
            pid: spawned.child.id(),
            socket: spawned.socket,
            reader,
            out: Vec::new(),
            input: Vec::new(),
            linger: timeout,
            read_timeout: None,
            reaped: false,
        };
        let hello = Message::Hello { protocol: PROTOCOL, version: env!("CARGO_PKG_VERSION").into() };
        match process.call(&hello, Some(timeout)) {
            Ok(Message::Hello { protocol: PROTOCOL, .. }) => {}
            Ok(other) => return Err(StartError::Died(process.kill(Death::Broken(format!("its hello was {other:?}"))))),
            Err(death) => return Err(StartError::Died(death)),
        }
        match process.call(&Message::Create(create), Some(timeout)) {
            Ok(Message::Created { plugin, on_run, on_committed }) => {
                Ok((process, Created { plugin, on_run, on_committed }))
            }
            Ok(Message::Refused { status, plugin, message, help, config_key }) => {
                drop(process);
                Err(StartError::Refused { status, plugin, message, help, config_key })
            }
            Ok(other) => Err(StartError::Died(process.kill(Death::Broken(format!("it answered {other:?} to create"))))),
            Err(death) => Err(StartError::Died(death)),
        }
    }

    /// Sends `message` and waits up to `timeout` (None: for ever) for the answer. A worker
    /// that dies or does not answer in time is gone for good: it is reaped (killed first
    /// when it hangs), and the death says how.
    pub fn call(&mut self, message: &Message, timeout: Option<Duration>) -> Result<Message, Death> {
        if let Err(e) = send(&mut self.socket, message, &mut self.out) {
            return Err(self.lost(e, timeout));
        }
        self.answer(timeout)
    }

    /// Sends an `Events` frame whose events `write` puts straight into it, and waits for
    /// the answer like [`call`](Self::call).
    pub fn call_events(
        &mut self,
        first_seq: u64,
        write: impl FnOnce(&mut Vec<u8>),
        timeout: Option<Duration>,
    ) -> Result<Message, Death> {
        if let Err(e) = super::protocol::send_events(&mut self.socket, first_seq, write, &mut self.out) {
            return Err(self.lost(e, timeout));
        }
        self.answer(timeout)
    }

    /// The next frame from the worker, waiting up to `timeout`.
    pub fn answer(&mut self, timeout: Option<Duration>) -> Result<Message, Death> {
        // A zero timeout would mean "none" to the socket.
        let timeout = timeout.map(|t| t.max(Duration::from_millis(1)));
        if self.read_timeout != Some(timeout) {
            let _ = self.socket.set_read_timeout(timeout);
            self.read_timeout = Some(timeout);
        }
        match receive(&mut self.reader, &mut self.input) {
            Ok(message) => Ok(message),
            Err(e) => Err(self.lost(e, timeout)),
        }
    }

    /// Waits, using no CPU, until the worker has sent something (or its socket closed) or
    /// `woken` is readable: true for the former.
    pub fn readable(&self, woken: &UnixStream) -> bool {
        if !self.reader.buffer().is_empty() {
            return true;
        }
        let mut fds = [
            libc::pollfd { fd: self.socket.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: woken.as_raw_fd(), events: libc::POLLIN, revents: 0 },
        ];
        loop {
            // SAFETY: poll(2) on two descriptors that stay open while they are borrowed here,
            // with the length of the array it is given.
            let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
            if ready >= 0 || io::Error::last_os_error().kind() != ErrorKind::Interrupted {
                // On an error, the read that follows finds out what is wrong.
                return ready < 0 || fds[0].revents != 0 || fds[1].revents == 0;
            }
        }
    }

    /// The call failed with the I/O error `e`: it timed out (killed), or is gone.
    fn lost(&mut self, e: io::Error, timeout: Option<Duration>) -> Death {
        match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => {
                self.kill(Death::Hung { after: timeout.unwrap_or_default() })
            }
            ErrorKind::InvalidData => self.kill(Death::Broken(e.to_string())),
            // Closed: it ended by itself, and says how when reaped.
            _ => {
                self.reaped = true;
                reap(self.pid)
            }
        }
    }

    /// Kills the worker and reaps it; `why` is what the host saw.
    pub fn kill(&mut self, why: Death) -> Death {
        if !self.reaped {
            let _ = kill(Pid::from_raw(self.pid as i32), Signal::SIGKILL);
            self.reaped = true;
            reap(self.pid);
        }
        why
    }

    /// A second handle on the socket, to read frames on another thread.
    pub fn reader(&self) -> io::Result<UnixStream> {
        self.socket.try_clone()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        // The worker sees the end of its socket, destroys the instance and exits; its
        // socket closes then, which is what the read below waits for.
        let _ = self.socket.shutdown(std::net::Shutdown::Write);
        let _ = self.socket.set_read_timeout(Some(self.linger.max(Duration::from_millis(1))));
        let mut rest = [0u8; 256];
        loop {
            match io::Read::read(&mut self.socket, &mut rest) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    tracing::warn!(
                        pid = self.pid,
                        "an isolated worker did not finish on_destroy within {:?}; killed",
                        self.linger
                    );
                    let _ = kill(Pid::from_raw(self.pid as i32), Signal::SIGKILL);
                    break;
                }
                Err(_) => break,
            }
        }
        reap(self.pid);
    }
}
