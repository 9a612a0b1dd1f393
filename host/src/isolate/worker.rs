//! The worker process, `evhost worker --fd N`: one isolated instance. It loads the library
//! with the host's own loader, so the plugin gets the same ABI, host API and hooks as in
//! the host; then it does what the host's frames ask, one at a time, and answers each.
//!
//! A consumer's worker only answers. A producer's worker also asks: its `emit` goes to the
//! host ([`Upstream`]), which appends to the real log and answers with the ticket, so
//! backpressure holds (the answer waits while the log is full). `on_run` runs on a thread
//! of its own, so that `on_stop` and the answers to emits still arrive while it runs.
//!
//! The worker ends when its socket closes (the host stopped, or died): it destroys the
//! instance and exits. Its log lines go to the stderr it shares with the host, formatted by
//! the same logger, so they carry the instance's name as the host's own do.

use std::io::{self, BufReader};
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Condvar, Mutex};

use evhost_abi::{self as evh, evh_status};

use super::events;
use super::isolated::lock;
use super::protocol::{receive, send, Create, Message, PROTOCOL};
use crate::config::Kind;
use crate::loader::{EmitTarget, Forward, Instance, InstanceHost, Loader};
use crate::log::ChunkBuilder;
use crate::selection::{self, Wanted};

/// The socket's writing side, shared by the frame loop and the producer's emitting threads.
struct Writer {
    socket: UnixStream,
    buffer: Vec<u8>,
}

impl Writer {
    fn send(&mut self, message: &Message) -> io::Result<()> {
        send(&mut self.socket, message, &mut self.buffer)
    }
}

type Shared<T> = Arc<Mutex<T>>;

/// Runs the worker on the socket at `fd`; the exit code says whether it ended cleanly.
pub fn main(fd: i32) -> ExitCode {
    close_other_files(fd);
    // SAFETY: the host started this process with its socket at `fd` (see spawn.rs), and
    // nothing else in the process owns that descriptor.
    let socket = unsafe { UnixStream::from_raw_fd(fd) };
    match serve(socket) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("isolated worker: {e}");
            ExitCode::from(1)
        }
    }
}

/// Closes every descriptor but stdin, stdout, stderr and the socket: a worker holds only
/// what it needs, whatever the host had open (its plugins' files and sockets, maybe not
/// close-on-exec) when it started this one.
fn close_other_files(keep: i32) {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else { return };
    let open: Vec<i32> = entries.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect();
    for fd in open.into_iter().filter(|fd| *fd > 2 && *fd != keep) {
        // SAFETY: nothing in this process uses these descriptors: no plugin is loaded yet,
        // and the listing's own descriptor is closed already (EBADF, harmless).
        unsafe { nix::libc::close(fd) };
    }
}

fn serve(socket: UnixStream) -> io::Result<()> {
    // Buffered: a frame usually takes one system call.
    let mut reader = BufReader::with_capacity(1 << 16, socket.try_clone()?);
    let writer: Shared<Writer> = Arc::new(Mutex::new(Writer { socket, buffer: Vec::new() }));
    let mut buffer = Vec::new();
    match receive(&mut reader, &mut buffer)? {
        Message::Hello { protocol: PROTOCOL, .. } => {}
        Message::Hello { protocol, version } => {
            return Err(io::Error::other(format!(
                "the host (evhost {version}) speaks worker protocol {protocol}, this worker {PROTOCOL}"
            )))
        }
        other => return Err(io::Error::other(format!("the host began with {other:?} instead of a hello"))),
    }
    lock(&writer).send(&Message::Hello { protocol: PROTOCOL, version: env!("CARGO_PKG_VERSION").into() })?;
    let Message::Create(create) = receive(&mut reader, &mut buffer)? else {
        return Err(io::Error::other("the host did not say what to create"));
    };
    let upstream = Arc::new(Upstream {
        writer: writer.clone(),
        answer: Mutex::default(),
        answered: Condvar::new(),
        calls: Mutex::new(()),
    });
    let target = (!create.consumer).then(|| EmitTarget::Forward {
        forward: Box::new(UpstreamRef(upstream.clone(), (create.log_capacity as usize, create.log_max_bytes as usize))),
        max_event_bytes: create.max_event_bytes as usize,
    });
    let instance = match instantiate(&create, target) {
        Ok(instance) => Arc::new(instance),
        Err(refused) => return lock(&writer).send(&refused),
    };
    lock(&writer).send(&Message::Created {
        plugin: instance.plugin.name.clone(),
        on_run: instance.runs_on_host_thread(),
        on_committed: instance.has_on_committed(),
    })?;
    let result = frames(&instance, &mut reader, &writer, &upstream);
    // The host is gone or done: an emitter waiting for an answer gets none.
    upstream.close();
    // The host asks `on_run` to return before it lets a worker go. Still running, it was
    // not asked: the host died. on_destroy must not run beside on_run; the process ends.
    if Arc::strong_count(&instance) > 1 {
        tracing::warn!(instance = %create.name, "the host is gone while on_run was running; the worker ends");
        std::process::exit(1);
    }
    drop(instance);
    match result {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(()),
        other => other,
    }
}

/// Does what the host's frames ask until the socket closes.
fn frames(
    instance: &Arc<Instance>,
    reader: &mut BufReader<UnixStream>,
    writer: &Shared<Writer>,
    upstream: &Upstream,
) -> io::Result<()> {
    let mut buffer = Vec::new();
    let error = |status: evh_status| if status == evh::EVH_OK { String::new() } else { take_error(instance.host) };
    loop {
        match receive(reader, &mut buffer)? {
            Message::Events { first_seq, events } => {
                let mut chunk = events::decode(&events)
                    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "the host sent malformed events"))?
                    .finish();
                chunk.number(first_seq);
                let delivered = instance.deliver_chunk(&chunk);
                let answer = Message::Delivered {
                    status: delivered.status,
                    handled: delivered.handled as u64,
                    error: error(delivered.status),
                };
                lock(writer).send(&answer)?;
            }
            Message::Start => {
                let status = instance.start().err().map_or(evh::EVH_OK, |e| restore(instance.host, e));
                lock(writer).send(&Message::Done { status, error: error(status) })?;
            }
            Message::Stop => {
                instance.stop();
                lock(writer).send(&Message::Done { status: evh::EVH_OK, error: String::new() })?;
            }
            Message::Run => {
                let (instance, writer) = (instance.clone(), writer.clone());
                std::thread::Builder::new().name("produce".into()).spawn(move || {
                    let status = instance.run().err().map_or(evh::EVH_OK, |e| restore(instance.host, e));
                    let error = if status == evh::EVH_OK { String::new() } else { take_error(instance.host) };
                    // Let go first: once the host has the answer, it may close the socket,
                    // and the frame loop then counts who still holds the instance.
                    drop(instance);
                    let _ = lock(&writer).send(&Message::Ran { status, error });
                })?;
            }
            answer @ Message::Emitted { .. } => upstream.answer(answer),
            Message::Committed { seq } => instance.committed(seq),
            other => return Err(io::Error::other(format!("unexpected frame from the host: {other:?}"))),
        }
    }
}

/// Puts a hook's message back where `take_error` finds it, and returns its status.
fn restore(host: &InstanceHost, e: crate::loader::HookError) -> evh_status {
    if let Some(message) = e.message {
        host.set_error(message);
    }
    e.status
}

fn take_error(host: &InstanceHost) -> String {
    host.take_error().unwrap_or_default()
}

/// Loads the library and creates the instance, or says why not as the host would.
fn instantiate(create: &Create, target: Option<EmitTarget>) -> Result<Instance, Box<Message>> {
    let wanted = Wanted {
        library: Path::new(&create.library),
        plugin: (!create.plugin.is_empty()).then_some(create.plugin.as_str()),
        kind: if create.consumer { Kind::Consumer } else { Kind::Producer },
        name: &create.name,
    };
    // The host's own decision, so an isolated entry is refused as an in-process one is;
    // the host places the caret on the key this names.
    let plugin = selection::load(&mut Loader::default(), &wanted).map_err(|refusal| {
        Box::new(Message::Refused {
            status: 0,
            plugin: String::new(),
            message: refusal.message,
            help: refusal.help,
            config_key: refusal.at.as_str().into(),
        })
    })?;
    let host = InstanceHost::new(&create.name, target);
    let name = plugin.name.clone();
    Instance::create(plugin, host, &create.config_json, &create.config_dir).map_err(|e| {
        Box::new(Message::Refused {
            status: e.status,
            plugin: name,
            message: e.message.unwrap_or_default(),
            help: String::new(),
            config_key: e.config_key.unwrap_or_default(),
        })
    })
}

/// A producer's way to the host's log: one question at a time, each answered with
/// `Emitted` through the frame loop.
struct Upstream {
    writer: Shared<Writer>,
    answer: Mutex<Answer>,
    answered: Condvar,
    /// Held from question to answer, so that answers cannot cross.
    calls: Mutex<()>,
}

#[derive(Default)]
struct Answer {
    message: Option<Message>,
    /// The host is gone: every question is answered EVH_STOPPED at once.
    closed: bool,
}

impl Upstream {
    fn answer(&self, answer: Message) {
        lock(&self.answer).message = Some(answer);
        self.answered.notify_all();
    }

    fn close(&self) {
        lock(&self.answer).closed = true;
        self.answered.notify_all();
    }

    /// Sends `question` and waits for its answer: (status, ticket, message).
    fn ask(&self, question: &Message) -> (evh_status, u64, String) {
        let stopped = || (evh::EVH_STOPPED, 0, "the host is stopping".to_string());
        let _turn = lock(&self.calls);
        lock(&self.answer).message = None;
        if lock(&self.writer).send(question).is_err() {
            return stopped();
        }
        let mut answer = lock(&self.answer);
        loop {
            match answer.message.take() {
                Some(Message::Emitted { status, ticket, error }) => return (status, ticket, error),
                _ if answer.closed => return stopped(),
                _ => answer = self.answered.wait(answer).unwrap_or_else(|e| e.into_inner()),
            }
        }
    }
}

/// The producer's [`Forward`]: the host API table holds it for the instance's lifetime.
/// The host, and its log's capacity and max_bytes.
struct UpstreamRef(Arc<Upstream>, (usize, usize));

impl Forward for UpstreamRef {
    fn emit(&self, batch: ChunkBuilder, flags: u32) -> Result<u64, (evh_status, String)> {
        let chunk = batch.finish();
        let mut bytes = Vec::with_capacity(chunk.bytes() + chunk.len() * 4 + 64);
        events::encode(chunk.refs(0..chunk.len() as u64), &mut bytes);
        match self.0.ask(&Message::Emit { flags, events: bytes }) {
            (evh::EVH_OK, ticket, _) => Ok(ticket),
            (status, _, error) => Err((status, error)),
        }
    }

    fn wait_committed(&self, ticket: u64, timeout_ms: u64) -> (evh_status, u64) {
        let (status, watermark, _) = self.0.ask(&Message::WaitCommitted { ticket, timeout_ms });
        (status, watermark)
    }

    fn limits(&self) -> (usize, usize) {
        self.1
    }
}
