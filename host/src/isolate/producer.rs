//! An isolated producer, on the host's side. Whether its plugin has `on_run` or `on_start`,
//! the host gives it a thread of its own ([`Isolated::run`]) that starts the worker, asks
//! for the hook, and then serves the worker: each emit it forwards is appended to the log
//! here (`InstanceHost::append_forwarded`, the same append, counters and messages as an
//! in-process emit) and answered with its ticket. The answer waits while the log is full,
//! and the worker's emit waits for the answer, so backpressure holds across the process
//! boundary. A worker that dies is restarted with the backoff and asked for its hook again;
//! what it emitted before stays in the log.
//!
//! Stopping comes from another thread (shutdown): [`Line`] is the socket's writing side,
//! shared, so that the stop reaches the worker while the serving thread waits for frames,
//! and a wake-up for that thread, so that `hook_timeout` bounds the worker's `on_stop`.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::Mutex;

use evhost_abi as evh;

use super::death::Death;
use super::events;
use super::isolated::{lock, Isolated};
use super::process::Process;
use super::protocol::{send, Message};
use crate::loader::HookError;

/// The writing side of the current worker's socket, and whether a stop was asked for.
#[derive(Default)]
pub struct Line(Mutex<LineState>);

#[derive(Default)]
struct LineState {
    socket: Option<UnixStream>,
    /// The writing end of the serving thread's wake-up socket: a stop writes a byte, so that
    /// a thread waiting for frames without a limit starts counting `on_stop`'s.
    wake: Option<UnixStream>,
    buffer: Vec<u8>,
    stopping: bool,
}

impl Line {
    /// Sends `message` to the current worker, if there is one.
    pub fn tell(&self, message: &Message) {
        self.send(message);
    }

    /// Sends `message` to the current worker; false when there is none or it is gone.
    fn send(&self, message: &Message) -> bool {
        let state = &mut *lock(&self.0);
        match &mut state.socket {
            Some(socket) => send(socket, message, &mut state.buffer).is_ok(),
            None => false,
        }
    }

    /// A new worker is serving: false when a stop came meanwhile (then it is not started).
    fn connect(&self, socket: UnixStream, wake: UnixStream) -> bool {
        let state = &mut *lock(&self.0);
        if state.stopping {
            return false;
        }
        state.socket = Some(socket);
        state.wake = Some(wake);
        true
    }

    fn disconnect(&self) {
        let state = &mut *lock(&self.0);
        state.socket = None;
        state.wake = None;
    }

    fn stopping(&self) -> bool {
        lock(&self.0).stopping
    }

    /// Asks the worker to stop (`on_stop`), now or as soon as one is started.
    pub fn request_stop(&self) {
        let state = &mut *lock(&self.0);
        state.stopping = true;
        if let Some(socket) = &mut state.socket {
            let _ = send(socket, &Message::Stop, &mut state.buffer);
        }
        if let Some(wake) = &mut state.wake {
            let _ = wake.write(&[1]);
        }
    }
}

/// How serving a worker ended.
enum Served {
    /// The hook returned: `on_run`, or `on_start` and then `on_stop`.
    Returned(Result<(), HookError>),
    /// The worker died in `hook`; `worked` when it did something useful before.
    Died { death: Death, hook: &'static str, worked: bool },
}

fn hook_result(status: i32, error: String) -> Result<(), HookError> {
    if status == evh::EVH_OK {
        Ok(())
    } else {
        Err(HookError::from_wire(status, error, String::new()))
    }
}

impl Isolated {
    /// Producer: runs it until it returns or is stopped, through crashes (module doc).
    pub fn run(&self) -> Result<(), HookError> {
        let mut slot = lock(&self.slot);
        loop {
            if self.stop.stopping() {
                return Ok(());
            }
            if !self.keeper.ensure(&mut slot) {
                match self.keeper.failure() {
                    Some(reason) => {
                        return Err(HookError {
                            status: evh::EVH_ERR_INTERNAL,
                            message: Some(format!("the isolated instance has failed: {reason}")),
                            config_key: None,
                        })
                    }
                    None => continue,
                }
            }
            let process = slot.process.as_mut().expect("ensured");
            let served = match process.reader().and_then(|socket| Ok((socket, UnixStream::pair()?))) {
                Ok((socket, (wake, woken))) => {
                    if !self.stop.connect(socket, wake) {
                        return Ok(());
                    }
                    self.serve(process, &woken)
                }
                Err(e) => {
                    Served::Died { death: process.kill(Death::Broken(e.to_string())), hook: "on_run", worked: false }
                }
            };
            self.stop.disconnect();
            match served {
                Served::Returned(result) => return result,
                // Asked to stop, it is not restarted: the stop it died in failed.
                Served::Died { death, hook, .. } if self.stop.stopping() => {
                    let failure = self.keeper.died_stopping(&mut slot, &death, hook);
                    return Err(HookError { status: evh::EVH_ERR_INTERNAL, message: Some(failure), config_key: None });
                }
                Served::Died { death, hook, worked } => {
                    if worked {
                        self.keeper.recovered(&mut slot);
                    }
                    self.keeper.died(&mut slot, &death, hook);
                }
            }
        }
    }

    /// Asks the worker for its hook and serves its emits until the hook returns. `woken`
    /// becomes readable when a stop is asked for.
    fn serve(&self, process: &mut Process, woken: &UnixStream) -> Served {
        let on_run = self.on_run;
        let mut hook = if on_run { "on_run" } else { "on_start" };
        let mut worked = false;
        // An on_run producer's on_stop returned (`Done`): on_run returns next, with no limit
        // but the drain's, as in-process (the README: on_run has no hook_timeout).
        let mut stop_returned = false;
        if !self.stop.send(if on_run { &Message::Run } else { &Message::Start }) {
            return Served::Died { death: process.kill(Death::Broken("its socket closed".into())), hook, worked };
        }
        loop {
            // on_start and on_stop have their limit; a running producer sends when it likes.
            let timeout = match (hook, self.stop.stopping()) {
                ("on_start", _) => Some(self.keeper.timeout("on_start")),
                (_, true) if !stop_returned => Some(self.keeper.timeout("on_stop")),
                _ => None,
            };
            // Without a limit, wait until there is a frame or a stop: a stop gives on_stop
            // its limit, counted from now, and a wait already under way would not see it.
            // (Once on_stop returned, the stop was seen: wait for on_run's end alone.)
            if timeout.is_none() && !stop_returned && !process.readable(woken) {
                continue;
            }
            let frame = match process.answer(timeout) {
                Ok(frame) => frame,
                Err(death) => {
                    let hook = match (self.stop.stopping(), stop_returned) {
                        (true, true) => "on_run (returning after on_stop)",
                        (true, false) if hook != "on_start" => "on_stop",
                        _ => hook,
                    };
                    return Served::Died { death, hook, worked };
                }
            };
            match frame {
                Message::Emit { flags, events } => {
                    let Some(batch) = events::decode(&events) else {
                        let death = process.kill(Death::Broken("it emitted malformed events".into()));
                        return Served::Died { death, hook, worked };
                    };
                    let answer = match self.host.append_forwarded(batch, flags) {
                        Ok(ticket) => {
                            worked = true;
                            Message::Emitted { status: evh::EVH_OK, ticket, error: String::new() }
                        }
                        Err(status) => {
                            Message::Emitted { status, ticket: 0, error: self.host.take_error().unwrap_or_default() }
                        }
                    };
                    self.stop.send(&answer);
                }
                Message::WaitCommitted { ticket, timeout_ms } => {
                    let (status, watermark) = self.host.wait_forwarded(ticket, timeout_ms);
                    self.stop.send(&Message::Emitted { status, ticket: watermark, error: String::new() });
                }
                Message::Ran { status, error } => return Served::Returned(hook_result(status, error)),
                // on_start returned: the plugin's own threads run until on_stop.
                Message::Done { status, error } if hook == "on_start" => {
                    if status != evh::EVH_OK {
                        return Served::Returned(hook_result(status, error));
                    }
                    worked = true;
                    hook = "its own threads (after on_start)";
                }
                // on_stop returned: an on_start producer is done; an on_run one returns next.
                Message::Done { .. } if !on_run => return Served::Returned(Ok(())),
                Message::Done { .. } => stop_returned = true,
                other => {
                    let death = process.kill(Death::Broken(format!("it sent {other:?}")));
                    return Served::Died { death, hook, worked };
                }
            }
        }
    }
}
