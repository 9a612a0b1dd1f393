//! `evhost run`: the lifecycle. Signals are taken by the signal thread (see signals.rs) from
//! before anything loads; a signal while instances are created stops before running. Consumers start
//! before producers; on SIGTERM/SIGINT, or when every producer has finished by itself, the
//! producers are stopped, the consumers drain within the deadline, and everything is torn
//! down in order (`shutdown`). Meanwhile the loop here takes one event at a time: a
//! producer that finished, or a reload (SIGHUP, `POST /v1/reload`; see `reload`), so
//! reloads never overlap and one that comes during another waits its turn.

mod apply;
mod plan;
mod reload;
mod set;
mod shutdown;
mod stop_producers;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use crate::admin::{Admin, Reloader, Reply, Status};
use crate::config::{self, Config};
use crate::delivery::{Abort, Lanes, Report};
use crate::diagnostic::Diagnostic;
use crate::loader::{Commits, Loader};
use crate::log::{Log, OpenError};
use crate::report::{Outcome, ShutdownReport};
use crate::sd_notify::Notify;
use crate::signals::Watch;
use crate::startup::{self, Instances};
use set::{LiveConsumer, LiveProducer, Set};

/// How a run ended badly.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Config, load or create error: nothing ran (exit 2).
    #[error("{0}")]
    Setup(#[from] Diagnostic),
    /// Something failed while running (exit 1).
    #[error("{0}")]
    Runtime(String),
}

/// Where the config comes from, at start and at each reload.
pub struct Source {
    pub path: PathBuf,
    /// `--admin ADDR`: overrides `[admin] listen`, keeping its token.
    pub admin: Option<SocketAddr>,
}

impl Source {
    pub fn load(&self) -> Result<Config, Diagnostic> {
        let mut config = config::load(&self.path)?;
        if let Some(listen) = self.admin {
            let token = config.admin.take().and_then(|admin| admin.token);
            config.admin = Some(config::AdminConfig { listen, token });
        }
        Ok(config)
    }
}

enum Event {
    Signal(&'static str),
    ProducerDone {
        key: usize,
        result: Result<(), String>,
    },
    /// A producer's `stop` returned, on the thread shutdown gave it (see stop_producers.rs).
    ProducerStopped {
        key: usize,
    },
    /// A consumer read the end of the log (closed, or its cursor retired) and its lane let
    /// go of it.
    Drained {
        key: usize,
        report: Report,
    },
    /// SIGHUP (no reply) or `POST /v1/reload`.
    Reload(Option<Reply>),
}

/// How long a stop may run past the drain timeout (the consumers' on_stop and on_destroy)
/// before the signal thread gives up on it.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The running host: what the loop, a reload and the shutdown work on.
struct Host<'a> {
    source: Source,
    config: Config,
    watch: &'a Watch,
    status: Arc<Status>,
    log: Arc<Log>,
    lanes: Arc<Lanes>,
    abort: Arc<Abort>,
    commits: Commits,
    /// Kept for reloads: a library is loaded once, and again only when its file changed.
    loader: Loader,
    events: Sender<Event>,
    inbox: Receiver<Event>,
    /// Events a reload took from the inbox while it waited for others; handled next.
    deferred: VecDeque<Event>,
    notify: Option<Notify>,
    set: Set,
    failures: Vec<String>,
    report: &'a mut ShutdownReport,
}

/// Runs the config of `source` until a signal or until every producer finished; `report`
/// is filled as it goes, and says how the run ended.
pub fn run(source: Source, watch: &Watch, report: &mut ShutdownReport) -> Result<(), RunError> {
    let config = source.load()?;
    let (events, inbox) = mpsc::channel();
    // Before anything is created: /livez answers and /readyz says why not while on_create runs.
    let status = Arc::new(Status::new(&config));
    {
        let (events, status) = (events.clone(), status.clone());
        watch.on_signal(move |name| {
            // Here, on the signal thread, not when the loop gets to it (it may be in a
            // reload): a load balancer must never see the host ready once it is stopping.
            status.draining();
            let _ = events.send(Event::Signal(name));
        });
    }
    // While instances are created, nothing else keeps time: a stop that a hook holds up ends
    // at the drain timeout. Once running, the drain below keeps its own deadline.
    watch.set_limit(config.drain_timeout, Duration::ZERO);
    let reloader: Reloader = {
        let events = events.clone();
        Box::new(move |reply| {
            let _ = events.send(Event::Reload(Some(reply)));
        })
    };
    let _admin = config.admin.as_ref().map(|admin| Admin::start(admin, status.clone(), reloader)).transpose()?;
    let log = Arc::new(Log::open(&config.log).map_err(|e| {
        Diagnostic::new(e.to_string()).help(match e {
            OpenError::InUse { .. } => {
                "every host needs a log folder of its own: stop the other host, or give this one another [log] path"
            }
            _ => "check that [log] path names a folder this user can create and write, on a file system with room",
        })
    })?);
    let stopping = || watch.received().is_some();
    let mut loader = Loader::default();
    let Some(Instances { consumers, producers }) = startup::create_all_with(&mut loader, &config, &log, &stopping)?
    else {
        let name = watch.received().unwrap_or("a signal");
        tracing::info!("{name} received while starting; stopped before running");
        report.outcome = Outcome::StoppedWhileStarting;
        return Ok(());
    };
    watch.set_limit(config.drain_timeout, STOP_GRACE);
    let abort = Arc::new(Abort::default());
    let lanes = {
        let events = events.clone();
        let done = Box::new(move |key, report| {
            let _ = events.send(Event::Drained { key, report });
        });
        Lanes::start(log.clone(), abort.clone(), done)
            .map_err(|e| RunError::Runtime(format!("cannot start the delivery watchdog thread: {e}")))?
    };
    let first_producer = consumers.len();
    let mut set = Set::default();
    for (key, (entry, instance)) in consumers.into_iter().enumerate() {
        status.created(key, &instance);
        let cursor = log.join(&entry.name, entry.delivery.policy, entry.delivery.start);
        status.joined(key, cursor);
        set.consumers.push(LiveConsumer { key, entry, instance, cursor });
    }
    for (key, (entry, instance)) in (first_producer..).zip(producers) {
        status.created(key, &instance);
        set.producers.push(LiveProducer::new(key, entry, instance));
    }
    let commits = Commits::new(&log);
    let mut host = Host {
        source,
        config,
        watch,
        status,
        log,
        lanes,
        abort,
        commits,
        loader,
        events,
        inbox,
        deferred: VecDeque::new(),
        notify: Notify::from_env(),
        set,
        failures: Vec::new(),
        report,
    };
    host.start()?;
    host.wait();
    host.shutdown()
}

impl Host<'_> {
    /// Starts delivery, then the producers, and says the host is running.
    fn start(&mut self) -> Result<(), RunError> {
        let consumers: Vec<usize> = (0..self.set.consumers.len()).collect();
        self.deliver(&consumers).map_err(RunError::Runtime)?;
        self.status.attach(&self.log, &self.lanes);
        self.log.start().map_err(|e| RunError::Runtime(format!("cannot start the disk log's writer: {e}")))?;
        for at in 0..self.set.producers.len() {
            // Before the producer starts, so that it sees its first events (ABI 1.1 on_committed).
            self.commits
                .watch(&self.set.producers[at].instance)
                .map_err(|e| RunError::Runtime(format!("cannot start the commit notification thread: {e}")))?;
            if let Err(e) = self.start_producer(at) {
                self.failures.push(e);
            }
        }
        self.status.running();
        tracing::info!(producers = self.set.producers.len(), consumers = self.set.consumers.len(), "evhost is running");
        if let Some(notify) = &self.notify {
            notify.ready();
        }
        // Only now: a SIGHUP that came while starting is kept, and runs here.
        let events = self.events.clone();
        self.watch.on_reload(move || {
            let _ = events.send(Event::Reload(None));
        });
        Ok(())
    }

    /// Waits for a signal, a failure, or every producer to finish; runs reloads meanwhile.
    fn wait(&mut self) {
        while self.failures.is_empty() && !self.set.finished() {
            let event = match self.deferred.pop_front() {
                Some(event) => event,
                None => self.inbox.recv().expect("the host holds a sender"),
            };
            match event {
                Event::Signal(name) => {
                    tracing::info!("{name} received; stopping producers and draining consumers");
                    break;
                }
                Event::ProducerDone { key, result } => self.producer_done(key, result, false),
                // A consumer a reload gave up waiting for drained after all; its lane let go
                // of it, and it was destroyed then.
                Event::Drained { key, .. } => tracing::debug!(key, "a removed consumer drained late"),
                Event::Reload(reply) => self.reload(reply),
                // Only shutdown stops producers this way, and waits for it there.
                Event::ProducerStopped { .. } => {}
            }
        }
    }

    /// The next event (those a reload put aside first), waiting at most `timeout`.
    fn next_event(&mut self, timeout: Duration) -> Option<Event> {
        match self.deferred.pop_front() {
            Some(event) => Some(event),
            None => self.inbox.recv_timeout(timeout).ok(),
        }
    }
}
