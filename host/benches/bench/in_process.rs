//! The two in-process baselines: the same C `sequence` producer and 4 C `count` consumers,
//! loaded through the real loader, joined without the host's log.
//!
//! - `direct_calls`: the producer's emit calls the 4 consumers' `on_events` on the emitting
//!   thread (`Baseline::Direct`): the same work with zero transport, the ceiling.
//! - `tokio_broadcast`: emit copies each checked event into an `OwnedEvent` (one allocation)
//!   and sends it into a `tokio::sync::broadcast` channel (`Baseline::Transport`); 4 tasks on a tokio runtime with a
//!   worker thread per core left beside the producer's receive and deliver one event per call.
//! - `tokio_broadcast_batched`: the same channel carrying each emitted batch once, in an
//!   `Arc`, delivered in one call: the fair version of the same idea.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use evhost::config;
use evhost::loader::{Baseline, EmitTarget, Instance, Loader, OwnedEvent};
use evhost::log::{AppendError, Chunk, ChunkBuilder};
use evhost::startup;
use evhost_abi as evh;
use tokio::sync::broadcast::{self, error::RecvError, Sender};

use crate::fixture::{self, LogKind, Result, PAYLOAD};

/// Messages the broadcast channel holds.
const CHANNEL: usize = 65536;
/// How long the producer naps while the channel is full.
const NAP: Duration = Duration::from_micros(50);

/// The consumers and the producer of one run, created from a real config.
struct Setup {
    consumers: Vec<Arc<Instance>>,
    producer: Arc<Instance>,
    files: Vec<PathBuf>,
    _dir: tempfile::TempDir,
}

fn setup(events: u64, baseline: impl FnOnce(&[Arc<Instance>]) -> Baseline) -> Result<Setup> {
    let dir = fixture::run_dir()?;
    let c = fixture::library("c")?;
    let (config, files) = fixture::fan_out(dir.path(), LogKind::Memory, &c, &c, events);
    let path = dir.path().join("bench.toml");
    let config = config::parse(&path, config.text().to_string()).map_err(|d| d.to_string())?;
    let mut loader = Loader::default();
    let consumers = config
        .consumers
        .iter()
        .map(|entry| startup::create(&mut loader, entry, None))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|d| d.to_string())?;
    let producer = startup::create(&mut loader, &config.producers[0], Some(EmitTarget::Baseline(baseline(&consumers))))
        .map_err(|d| d.to_string())?;
    Ok(Setup { consumers, producer, files, _dir: dir })
}

/// Stops the consumers, so that they write their totals, and checks them.
fn finish(consumers: &[Arc<Instance>], files: &[PathBuf], events: u64) -> Result<()> {
    for consumer in consumers {
        consumer.stop();
    }
    fixture::verify_counts(files, events, PAYLOAD)
}

/// The ceiling: emit calls the consumers directly. Times `on_run`.
pub fn direct_calls(events: u64) -> Result<Duration> {
    let Setup { consumers, producer, files, _dir } = setup(events, |consumers| Baseline::Direct(consumers.to_vec()))?;
    let start = Instant::now();
    producer.run().map_err(|e| format!("direct_calls: the producer failed: {e}"))?;
    let elapsed = start.elapsed();
    drop(producer);
    finish(&consumers, &files, events)?;
    Ok(elapsed)
}

/// broadcast has no backpressure: a receiver more than `capacity` messages behind loses
/// messages (`Lagged`). So before each batch the producer checks how far the slowest
/// receiver is behind (`len`, which costs a search of the ring, hence once per batch), and
/// when the batch would not fit it naps until the channel is half empty, leaving the cores
/// to the consumers.
fn wait_for_room<M>(tx: &Sender<M>, capacity: usize, messages: usize) {
    if tx.len() + messages <= capacity {
        return;
    }
    while tx.len() > capacity / 2 {
        thread::sleep(NAP);
    }
}

/// The same producer and consumers joined by `tokio::sync::broadcast`, one owned event per
/// message: what a log built from a channel of events pays (an allocation per event).
pub fn tokio_broadcast(events: u64) -> Result<Duration> {
    broadcast(
        "tokio_broadcast",
        events,
        CHANNEL,
        |tx, chunk| {
            wait_for_room(tx, CHANNEL, chunk.len());
            for event in chunk.refs(chunk.first_seq..chunk.end_seq()) {
                tx.send(Arc::new(OwnedEvent::new(&event))).map_err(|_| AppendError::Stopped)?;
            }
            Ok(())
        },
        |consumer, event| consumer.deliver_owned(event),
    )
}

/// What a competent Rust user would write instead: one message per emitted batch (256
/// events), the batch shared by every consumer through an `Arc`, delivered in one call.
pub fn tokio_broadcast_batched(events: u64) -> Result<Duration> {
    let capacity = CHANNEL / fixture::EMIT_BATCH as usize;
    broadcast(
        "tokio_broadcast_batched",
        events,
        capacity,
        move |tx, chunk| {
            wait_for_room(tx, capacity, 1);
            tx.send(Arc::new(chunk)).map(drop).map_err(|_| AppendError::Stopped)
        },
        |consumer, chunk| consumer.deliver_chunk(chunk),
    )
}

/// Runs the producer into a broadcast channel of `M` (`send` turns each emitted batch into
/// messages) and 4 tasks on a tokio runtime, with a worker thread per core left beside the
/// producer's, that `deliver` each message. Times `on_run` until every task has received the
/// end of the channel.
fn broadcast<M: Clone + Send + 'static>(
    name: &'static str,
    events: u64,
    capacity: usize,
    send: impl Fn(&Sender<M>, Chunk) -> std::result::Result<(), AppendError> + Send + Sync + 'static,
    deliver: fn(&Instance, &M) -> evhost::loader::Delivered,
) -> Result<Duration> {
    let (tx, _) = broadcast::channel::<M>(capacity);
    let receivers: Vec<_> = (0..fixture::CONSUMERS).map(|_| tx.subscribe()).collect();
    let append = move |batch: ChunkBuilder, _block: bool| send(&tx, batch.finish());
    let transport = Baseline::Transport { append: Box::new(append), max_event_bytes: config::DEFAULT_MAX_EVENT_BYTES };
    let Setup { consumers, producer, files, _dir } = setup(events, |_| transport)?;

    let workers = thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .map_err(|e| format!("{name}: cannot start a tokio runtime: {e}"))?;

    let start = Instant::now();
    let tasks: Vec<_> = consumers
        .iter()
        .cloned()
        .zip(receivers)
        .map(|(consumer, mut rx)| {
            runtime.spawn(async move {
                loop {
                    match rx.recv().await {
                        Ok(message) => {
                            let delivered = deliver(&consumer, &message);
                            if delivered.status != evh::EVH_OK {
                                return Err(format!(
                                    "{name}: a consumer answered {}",
                                    evh::status_name(delivered.status)
                                ));
                            }
                        }
                        Err(RecvError::Closed) => return Ok(()),
                        Err(RecvError::Lagged(n)) => {
                            return Err(format!("{name}: a consumer lagged and lost {n} messages"))
                        }
                    }
                }
            })
        })
        .collect();
    let produced = producer.run().map_err(|e| format!("{name}: the producer failed: {e}"));
    // The sender lives in the producer's sink: dropping the producer closes the channel.
    drop(producer);
    for task in tasks {
        runtime.block_on(task).map_err(|e| format!("{name}: a consumer task failed: {e}"))??;
    }
    let elapsed = start.elapsed();
    produced?;
    finish(&consumers, &files, events)?;
    Ok(elapsed)
}
