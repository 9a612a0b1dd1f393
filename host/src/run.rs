//! `evhost run`: the lifecycle. Signals are taken by the signal thread (see signals.rs) from
//! before anything loads; a signal while instances are created stops before running. Consumers start
//! before producers; on SIGTERM/SIGINT, or when every producer has finished by itself, the
//! producers are stopped, the consumers drain within the deadline, and everything is torn
//! down in order.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::admin::{Admin, State, Status};
use crate::config::{Config, Kind};
use crate::delivery::{self, Abort, Lanes, Report};
use crate::diagnostic::Diagnostic;
use crate::log::{Log, OpenError};
use crate::report::{ConsumerReport, ConsumerState, Outcome, ProducerReport, ProducerState, ShutdownReport};
use crate::signals::Watch;
use crate::startup::{self, Instances};

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

enum Event {
    Signal(&'static str),
    ProducerDone { index: usize, result: Result<(), String> },
}

/// How long a stop may run past the drain timeout (the consumers' on_stop and on_destroy)
/// before the signal thread gives up on it.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Runs `config` until a signal or until every producer finished; `report` is filled as it
/// goes, and says how the run ended.
pub fn run(config: Config, watch: &Watch, report: &mut ShutdownReport) -> Result<(), RunError> {
    let (events, inbox) = mpsc::channel();
    {
        let events = events.clone();
        watch.on_signal(move |name| {
            let _ = events.send(Event::Signal(name));
        });
    }
    // While instances are created, nothing else keeps time: a stop that a hook holds up ends
    // at the drain timeout. Once running, the drain below keeps its own deadline.
    watch.set_limit(config.drain_timeout, Duration::ZERO);
    // Before anything is created: /livez answers and /readyz says why not while on_create runs.
    let status = Arc::new(Status::new(&config));
    let _admin = config.admin.as_ref().map(|admin| Admin::start(admin, status.clone())).transpose()?;
    let log = Arc::new(Log::open(&config.log).map_err(|e| {
        Diagnostic::new(e.to_string()).help(match e {
            OpenError::InUse { .. } => {
                "every host needs a log folder of its own: stop the other host, or give this one another [log] path"
            }
            _ => "check that [log] path names a folder this user can create and write, on a file system with room",
        })
    })?);
    let stopping = || watch.received().is_some();
    let Some(Instances { consumers, producers }) = startup::create_all(&config, &log, &stopping)? else {
        let name = watch.received().unwrap_or("a signal");
        tracing::info!("{name} received while starting; stopped before running");
        report.outcome = Outcome::StoppedWhileStarting;
        return Ok(());
    };
    watch.set_limit(config.drain_timeout, STOP_GRACE);
    status.created(&consumers, &producers);
    report.producers = producers
        .iter()
        .map(|(entry, _)| ProducerReport { name: entry.name.clone(), state: ProducerState::Stopped, error: None })
        .collect();
    let abort = Arc::new(Abort::default());
    let mut failures = Vec::new();

    let (drained, drains) = mpsc::channel::<(usize, Report)>();
    let names = consumers.iter().map(|(entry, _)| entry.name.clone()).collect();
    let lanes = Lanes::start(log.clone(), abort.clone(), drained, names)
        .map_err(|e| RunError::Runtime(format!("cannot start the delivery watchdog thread: {e}")))?;
    let threads = delivery::thread_count(consumers.iter().filter(|(_, i)| i.in_process().is_some()).count());
    let mut shares: Vec<Vec<delivery::Consumer>> = (0..threads).map(|_| Vec::new()).collect();
    let mut cursors = Vec::new();
    for (index, (entry, instance)) in consumers.iter().enumerate() {
        let id = log.join(&entry.name, entry.delivery.policy, entry.delivery.start);
        cursors.push(id);
        status.joined(index, id);
        let consumer = delivery::Consumer::new(index, instance.clone(), id, entry.delivery.clone());
        // An isolated one's thread mostly waits for its worker, and waits out its restarts.
        if instance.in_process().is_none() {
            shares.push(vec![consumer]);
        } else {
            shares[index % threads].push(consumer);
        }
    }
    for share in shares.into_iter().filter(|share| !share.is_empty()) {
        lanes.spawn(share).map_err(|(e, _)| RunError::Runtime(format!("cannot start a delivery thread: {e}")))?;
    }
    status.attach(&log, &lanes);
    log.start().map_err(|e| RunError::Runtime(format!("cannot start the disk log's writer: {e}")))?;

    // Before the producers start, so that it sees their first events (ABI 1.1 on_committed).
    let mut commits = crate::loader::Commits::start(
        &log,
        producers.iter().map(|(_, hosted)| hosted.clone() as Arc<dyn crate::loader::Notified>),
    )
    .map_err(|e| RunError::Runtime(format!("cannot start the commit notification thread: {e}")))?;
    let mut running = 0usize;
    let mut own_threads = 0usize;
    // The producers still on a host thread of their own (`on_run`).
    let mut on_host_thread = vec![false; producers.len()];
    for (index, (entry, instance)) in producers.iter().enumerate() {
        if instance.runs_on_host_thread() {
            let (instance, events) = (instance.clone(), events.clone());
            std::thread::Builder::new()
                .name(format!("produce:{}", entry.name))
                .spawn(move || {
                    let result = instance.run().map_err(|e| e.to_string());
                    let _ = events.send(Event::ProducerDone { index, result });
                })
                .map_err(|e| RunError::Runtime(format!("cannot start a producer thread: {e}")))?;
            running += 1;
            on_host_thread[index] = true;
        } else if let Err(e) = instance.start() {
            failures.push(format!("producer \"{}\" failed to start: {e}", entry.name));
            status.failed(Kind::Producer, index, &e.to_string());
            report.producers[index].failed(e.to_string());
        } else {
            own_threads += 1;
        }
    }
    status.running();
    tracing::info!(producers = producers.len(), consumers = consumers.len(), "evhost is running");

    // Wait for a signal, a failure, or every host-thread producer to finish.
    let finished_by_itself = own_threads == 0;
    while failures.is_empty() && (running > 0 || !finished_by_itself) {
        match inbox.recv().expect("the signal thread holds a sender") {
            Event::Signal(name) => {
                tracing::info!("{name} received; stopping producers and draining consumers");
                break;
            }
            Event::ProducerDone { index, result } => {
                running -= 1;
                let name = &producers[index].0.name;
                match result {
                    Ok(()) => {
                        tracing::info!(producer = %name, "producer finished");
                        report.producers[index].state = ProducerState::Finished;
                        status.set(Kind::Producer, index, State::Stopped);
                    }
                    Err(e) => {
                        failures.push(format!("producer \"{name}\" failed: {e}"));
                        status.failed(Kind::Producer, index, &e);
                        report.producers[index].failed(e);
                    }
                }
                on_host_thread[index] = false;
            }
        }
    }

    // Shutdown: stop producers, then drain consumers, all within the deadline.
    let deadline = Instant::now() + config.drain_timeout;
    status.draining();
    lanes.hurry(config.drain_timeout);
    for (_, instance) in &producers {
        instance.stop();
    }
    while running > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        match inbox.recv_timeout(left) {
            Ok(Event::ProducerDone { index, result }) => {
                running -= 1;
                on_host_thread[index] = false;
                if let Err(e) = result {
                    failures.push(format!("producer \"{}\" failed: {e}", producers[index].0.name));
                    status.failed(Kind::Producer, index, &e);
                    report.producers[index].failed(e);
                }
            }
            Ok(Event::Signal(name)) => tracing::warn!("{name} received again; still stopping producers"),
            Err(_) => {
                failures.push(format!(
                    "{running} producer(s) did not stop within the drain timeout ({:?})",
                    config.drain_timeout
                ));
                for (index, _) in on_host_thread.iter().enumerate().filter(|(_, still)| **still) {
                    report.producers[index].state = ProducerState::DidNotStop;
                    status.failed(Kind::Producer, index, "did not stop within the drain timeout");
                }
                break;
            }
        }
    }
    log.close();

    report.consumers = consumers
        .iter()
        .map(|(entry, _)| ConsumerReport {
            name: entry.name.clone(),
            state: ConsumerState::NotDrained,
            delivery: Report::default(),
            pending: 0,
        })
        .collect();
    let mut drained = vec![false; consumers.len()];
    let mut waiting = consumers.len();
    while waiting > 0 {
        let Ok((index, delivery)) = drains.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
            break;
        };
        drained[index] = true;
        waiting -= 1;
        let entry = &consumers[index].0;
        tracing::info!(consumer = %entry.name, delivered = delivery.delivered, dead_lettered = delivery.dead_lettered, lost = delivery.lost, dropped = delivery.dropped, retries = delivery.retries, "consumer drained");
        if delivery.lost > 0 {
            failures.push(format!("consumer \"{}\" lost {} events: they failed, and its dead-letter file could not take them either (each is named in an \"event lost\" error above)", entry.name, delivery.lost));
        }
        report.consumers[index].state = ConsumerState::Drained;
        status.set(Kind::Consumer, index, State::Stopped);
        report.consumers[index].delivery = delivery;
    }
    if waiting > 0 {
        abort.abort();
        log.stop();
        let calls = lanes.calls();
        for index in (0..consumers.len()).filter(|i| !drained[*i]) {
            let pending = log.pending(cursors[index]);
            report.consumers[index].pending = pending;
            let name = &consumers[index].0.name;
            let failure = match calls.iter().find(|call| call.consumer == index) {
                Some(call) => format!("consumer \"{name}\" is stuck in {} (for {:.1?}, past the drain timeout of {:?}); {pending} events were not delivered to it (counting the batch it is stuck in), and it gets no on_stop", call.hook, call.elapsed, config.drain_timeout),
                None => format!("consumer \"{name}\" did not drain within the drain timeout ({:?}); {pending} events were not delivered to it", config.drain_timeout),
            };
            status.failed(Kind::Consumer, index, &failure);
            failures.push(failure);
        }
    }
    // Healthy consumers flush even when a neighbour is stuck. One that did not drain may
    // still be inside a hook; its lane holds the instance, so it gets neither on_stop nor
    // on_destroy, and the process exits around it.
    for (index, (_, instance)) in consumers.iter().enumerate() {
        if drained[index] {
            instance.stop();
        }
    }
    // Isolated consumers whose workers kept dying: the others ran on, but the run failed.
    // (A producer's thread ended with the reason, counted above.)
    failures.extend(consumers.iter().filter_map(|(_, instance)| instance.failure()));
    // The disk log writes what is left and where each consumer stands.
    log.shutdown();
    failures.extend(log.failure());
    // After the last commit (or the log's stop), so that the notifier's wait has ended.
    commits.stop();
    drop(consumers);
    drop(producers);
    status.stopped();

    if failures.is_empty() {
        tracing::info!("evhost stopped cleanly");
        Ok(())
    } else {
        report.outcome = Outcome::Failed;
        report.failures.clone_from(&failures);
        Err(RunError::Runtime(failures.join("; ")))
    }
}
