//! `evhost run`: the lifecycle. Signals are taken by the signal thread (see signals.rs) from
//! before anything loads; a signal while instances are created stops before running. Consumers start
//! before producers; on SIGTERM/SIGINT, or when every producer has finished by itself, the
//! producers are stopped, the consumers drain within the deadline, and everything is torn
//! down in order.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::bus::Bus;
use crate::config::Config;
use crate::delivery::{self, Abort, Pool, Report};
use crate::diagnostic::Diagnostic;
use crate::instances::{self, Instances};
use crate::signals::Watch;

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

pub fn run(config: Config, watch: &Watch) -> Result<(), RunError> {
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
    let bus = Arc::new(Bus::new(&config.log));
    let stopping = || watch.received().is_some();
    let Some(Instances { consumers, producers }) = instances::create_all(&config, &bus, &stopping)? else {
        let name = watch.received().unwrap_or("a signal");
        tracing::info!("{name} received while starting; stopped before running");
        return Ok(());
    };
    watch.set_limit(config.drain_timeout, STOP_GRACE);
    let abort = Arc::new(Abort::default());
    let mut failures = Vec::new();

    let (drained, drains) = mpsc::channel::<(usize, Report)>();
    let pool = Arc::new(Pool { bus: bus.clone(), abort: abort.clone(), done: drained });
    let threads = delivery::thread_count(consumers.len());
    let mut shares: Vec<Vec<delivery::Consumer>> = (0..threads).map(|_| Vec::new()).collect();
    let mut cursors = Vec::new();
    for (index, (entry, instance)) in consumers.iter().enumerate() {
        let id = bus.add_consumer(entry.delivery.policy);
        cursors.push(id);
        shares[index % threads].push(delivery::Consumer::new(index, instance.clone(), id, entry.delivery.clone()));
    }
    for (n, share) in shares.into_iter().enumerate() {
        pool.spawn(format!("deliver-{n}"), share)
            .map_err(|(e, _)| RunError::Runtime(format!("cannot start a delivery thread: {e}")))?;
    }
    drop(pool);

    let mut running = 0usize;
    let mut own_threads = 0usize;
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
        } else if let Err(e) = instance.start() {
            failures.push(format!("producer \"{}\" failed to start: {e}", entry.name));
        } else {
            own_threads += 1;
        }
    }
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
                    Ok(()) => tracing::info!(producer = %name, "producer finished"),
                    Err(e) => failures.push(format!("producer \"{name}\" failed: {e}")),
                }
            }
        }
    }

    // Shutdown: stop producers, then drain consumers, all within the deadline.
    let deadline = Instant::now() + config.drain_timeout;
    for (_, instance) in &producers {
        instance.stop();
    }
    while running > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        match inbox.recv_timeout(left) {
            Ok(Event::ProducerDone { index, result }) => {
                running -= 1;
                if let Err(e) = result {
                    failures.push(format!("producer \"{}\" failed: {e}", producers[index].0.name));
                }
            }
            Ok(Event::Signal(name)) => tracing::warn!("{name} received again; still stopping producers"),
            Err(_) => {
                failures.push(format!(
                    "{running} producer(s) did not stop within the drain timeout ({:?})",
                    config.drain_timeout
                ));
                break;
            }
        }
    }
    bus.close();

    let mut undrained: Vec<usize> = (0..consumers.len()).collect();
    while !undrained.is_empty() {
        let Ok((index, report)) = drains.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
            break;
        };
        undrained.retain(|i| *i != index);
        let name = &consumers[index].0.name;
        tracing::info!(consumer = %name, delivered = report.delivered, dead_lettered = report.dead_lettered, dropped = report.dropped, retries = report.retries, "consumer drained");
    }
    if !undrained.is_empty() {
        abort.abort();
        bus.stop();
        for index in undrained {
            let pending = bus.pending(cursors[index]);
            failures.push(format!("consumer \"{}\" did not drain within the drain timeout ({:?}); {pending} events were not delivered to it", consumers[index].0.name, config.drain_timeout));
        }
        // A stuck consumer may still be inside a hook. Its worker holds the instance, so it
        // gets no on_stop and no on_destroy; the process exits around it.
        return Err(RunError::Runtime(failures.join("; ")));
    }
    for (_, instance) in &consumers {
        instance.stop();
    }
    drop(consumers);
    drop(producers);

    if failures.is_empty() {
        tracing::info!("evhost stopped cleanly");
        Ok(())
    } else {
        Err(RunError::Runtime(failures.join("; ")))
    }
}
