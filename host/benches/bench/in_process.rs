//! The two in-process baselines: the same C `sequence` producer and 4 C `count` consumers,
//! loaded through the real loader, joined without the host's log.
//!
//! - `direct_calls`: the producer's emit calls the 4 consumers' `on_events` on the emitting
//!   thread (`Baseline::Direct`): the same work with zero transport, the ceiling.
//! - `tokio_broadcast`: emit copies each checked event into an `OwnedEvent` (one allocation)
//!   and sends it into a `tokio::sync::broadcast` channel (`Baseline::Transport`); 4 tasks on a tokio runtime with a
//!   worker thread per core left beside the producer's receive and deliver one event per call.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use evhost::config;
use evhost::loader::{Baseline, EmitTarget, Instance, Loader, OwnedEvent};
use evhost::log::{AppendError, ChunkBuilder};
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

/// broadcast has no backpressure: a receiver more than `CHANNEL` messages behind loses
/// messages (`Lagged`). So before each batch the producer checks how far the slowest
/// receiver is behind (`len`, which costs a search of the ring, hence once per batch), and
/// when the batch would not fit it naps until the channel is half empty, leaving the cores
/// to the consumers.
fn wait_for_room(tx: &Sender<Arc<OwnedEvent>>, events: usize) {
    if tx.len() + events <= CHANNEL {
        return;
    }
    while tx.len() > CHANNEL / 2 {
        thread::sleep(NAP);
    }
}

/// The same producer and consumers joined by `tokio::sync::broadcast`, one owned event per
/// message. Times `on_run` until every consumer thread has received the end of the channel.
pub fn tokio_broadcast(events: u64) -> Result<Duration> {
    let (tx, _) = broadcast::channel::<Arc<OwnedEvent>>(CHANNEL);
    let receivers: Vec<_> = (0..fixture::CONSUMERS).map(|_| tx.subscribe()).collect();
    let append = move |batch: ChunkBuilder, _block: bool| -> std::result::Result<(), AppendError> {
        wait_for_room(&tx, batch.len());
        let chunk = batch.finish();
        for event in chunk.refs(chunk.first_seq..chunk.end_seq()) {
            tx.send(Arc::new(OwnedEvent::new(&event))).map_err(|_| AppendError::Stopped)?;
        }
        Ok(())
    };
    let transport = Baseline::Transport { append: Box::new(append), max_event_bytes: config::DEFAULT_MAX_EVENT_BYTES };
    let Setup { consumers, producer, files, _dir } = setup(events, |_| transport)?;

    let workers = thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .map_err(|e| format!("tokio_broadcast: cannot start a tokio runtime: {e}"))?;

    let start = Instant::now();
    let tasks: Vec<_> = consumers
        .iter()
        .cloned()
        .zip(receivers)
        .map(|(consumer, mut rx)| {
            runtime.spawn(async move {
                loop {
                    match rx.recv().await {
                        Ok(event) => {
                            let delivered = consumer.deliver_owned(&event);
                            if delivered.status != evh::EVH_OK {
                                return Err(format!(
                                    "tokio_broadcast: a consumer answered {}",
                                    evh::status_name(delivered.status)
                                ));
                            }
                        }
                        Err(RecvError::Closed) => return Ok(()),
                        Err(RecvError::Lagged(n)) => {
                            return Err(format!("tokio_broadcast: a consumer lagged and lost {n} events"))
                        }
                    }
                }
            })
        })
        .collect();
    let produced = producer.run().map_err(|e| format!("tokio_broadcast: the producer failed: {e}"));
    // The sender lives in the producer's sink: dropping the producer closes the channel.
    drop(producer);
    for task in tasks {
        runtime.block_on(task).map_err(|e| format!("tokio_broadcast: a consumer task failed: {e}"))??;
    }
    let elapsed = start.elapsed();
    produced?;
    finish(&consumers, &files, events)?;
    Ok(elapsed)
}
