//! The running set: each consumer and producer with the entry it was made from, and how
//! each is started and followed: consumers handed to delivery threads, producers on a host
//! thread of their own (`on_run`) or their own threads (`on_start`).

use std::sync::Arc;

use super::{Event, Host};
use crate::admin::State;
use crate::config::InstanceConfig;
use crate::delivery;
use crate::hosted::Hosted;
use crate::log::ConsumerId;
use crate::report::ProducerState;

pub(super) struct LiveConsumer {
    /// Its key in the status registry and the delivery threads.
    pub key: usize,
    pub entry: InstanceConfig,
    pub instance: Arc<Hosted>,
    pub cursor: ConsumerId,
}

pub(super) struct LiveProducer {
    pub key: usize,
    pub entry: InstanceConfig,
    pub instance: Arc<Hosted>,
    /// Its `on_run` thread has not ended.
    pub on_host_thread: bool,
    /// Started by `on_start`: it runs until stopped.
    pub own_threads: bool,
    /// How it ended, so far, for the report.
    pub state: ProducerState,
    pub error: Option<String>,
}

impl LiveProducer {
    pub fn new(key: usize, entry: InstanceConfig, instance: Arc<Hosted>) -> Self {
        LiveProducer {
            key,
            entry,
            instance,
            on_host_thread: false,
            own_threads: false,
            state: ProducerState::Stopped,
            error: None,
        }
    }

    pub fn failed(&mut self, error: String) {
        self.state = ProducerState::Failed;
        self.error = Some(error);
    }
}

/// The instances running now, each list in config order.
#[derive(Default)]
pub(super) struct Set {
    pub consumers: Vec<LiveConsumer>,
    pub producers: Vec<LiveProducer>,
}

impl Set {
    /// Every producer finished by itself: none runs on a host thread, and none runs its own.
    pub fn finished(&self) -> bool {
        !self.producers.iter().any(|p| p.on_host_thread || p.own_threads)
    }
}

impl Host<'_> {
    /// Hands the consumers at `positions` of the set to new delivery threads, as many as
    /// the machine has cores to spare, and one more for each isolated consumer: its thread
    /// mostly waits for its worker, and waits out its restarts, never on a neighbour's time.
    pub(super) fn deliver(&mut self, positions: &[usize]) -> Result<(), String> {
        let in_process = positions.iter().filter(|&&at| self.set.consumers[at].instance.in_process().is_some()).count();
        let threads = delivery::thread_count(in_process);
        let mut shares: Vec<Vec<delivery::Consumer>> = (0..threads).map(|_| Vec::new()).collect();
        for (n, &at) in positions.iter().enumerate() {
            let c = &self.set.consumers[at];
            let consumer = delivery::Consumer::new(c.key, c.instance.clone(), c.cursor, c.entry.delivery.clone());
            if c.instance.in_process().is_some() {
                shares[n % threads].push(consumer);
            } else {
                shares.push(vec![consumer]);
            }
        }
        for share in shares.into_iter().filter(|share| !share.is_empty()) {
            self.lanes.spawn(share).map_err(|(e, _)| format!("cannot start a delivery thread: {e}"))?;
        }
        Ok(())
    }

    /// Starts the producer at `at` of the set; a failure is returned as the run's failure
    /// says it, and already marked in the status and the report.
    pub(super) fn start_producer(&mut self, at: usize) -> Result<(), String> {
        let producer = &mut self.set.producers[at];
        let (key, name) = (producer.key, producer.entry.name.clone());
        if producer.instance.runs_on_host_thread() {
            let (instance, events) = (producer.instance.clone(), self.events.clone());
            std::thread::Builder::new()
                .name(format!("produce:{name}"))
                .spawn(move || {
                    let result = instance.run().map_err(|e| e.to_string());
                    let _ = events.send(Event::ProducerDone { key, result });
                })
                .map_err(|e| format!("cannot start a producer thread: {e}"))?;
            producer.on_host_thread = true;
        } else if let Err(e) = producer.instance.start() {
            self.status.failed(key, &e.to_string());
            producer.failed(e.to_string());
            return Err(format!("producer \"{name}\" failed to start: {e}"));
        } else {
            producer.own_threads = true;
        }
        Ok(())
    }

    /// A producer's `on_run` returned; `asked_to_stop` at shutdown, where one that returns
    /// well has stopped as asked rather than finished by itself.
    pub(super) fn producer_done(&mut self, key: usize, result: Result<(), String>, asked_to_stop: bool) {
        // A producer a reload removed and gave up waiting for: nothing to follow.
        let Some(producer) = self.set.producers.iter_mut().find(|p| p.key == key) else { return };
        producer.on_host_thread = false;
        let name = &producer.entry.name;
        match result {
            Ok(()) if asked_to_stop => {}
            Ok(()) => {
                tracing::info!(producer = %name, "producer finished");
                producer.state = ProducerState::Finished;
                self.status.set(key, State::Stopped);
            }
            Err(e) => {
                self.failures.push(format!("producer \"{name}\" failed: {e}"));
                self.status.failed(key, &e);
                producer.failed(e);
            }
        }
    }
}
