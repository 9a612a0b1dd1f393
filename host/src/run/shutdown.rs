//! Shutdown: stop the producers (within half of `[host] drain_timeout`, see
//! stop_producers.rs), then drain the consumers, all within the drain timeout; then on_stop
//! and on_destroy in order, and the run's outcome.

use std::collections::HashMap;
use std::time::Instant;

use super::{Event, Host, RunError};
use crate::admin::State;
use crate::delivery::Report;
use crate::report::{ConsumerReport, ConsumerState, Outcome, ProducerReport};

impl Host<'_> {
    pub(super) fn shutdown(mut self) -> Result<(), RunError> {
        if let Some(notify) = &self.notify {
            notify.stopping();
        }
        let drain_timeout = self.config.drain_timeout;
        let deadline = Instant::now() + drain_timeout;
        self.status.draining();
        self.lanes.hurry(drain_timeout);
        self.stop_producers_for_shutdown(Instant::now() + drain_timeout / 2);
        self.log.close();

        let mut drained: HashMap<usize, Report> = HashMap::new();
        while drained.len() < self.set.consumers.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(event) = self.next_event(left) else { break };
            let Event::Drained { key, report: delivery } = event else { continue };
            let Some(consumer) = self.set.consumers.iter().find(|c| c.key == key) else { continue };
            let name = &consumer.entry.name;
            tracing::info!(consumer = %name, delivered = delivery.delivered, dead_lettered = delivery.dead_lettered, failed = delivery.failed, lost = delivery.lost, dropped = delivery.dropped, retries = delivery.retries, "consumer drained");
            if delivery.lost > 0 {
                self.failures.push(format!("consumer \"{name}\" lost {} events: they failed, and its dead-letter file could not take them either (each is named in an \"event lost\" error above)", delivery.lost));
            }
            self.status.set(key, State::Stopped);
            drained.insert(key, delivery);
        }
        let mut consumers: Vec<ConsumerReport> = self
            .set
            .consumers
            .iter()
            .map(|c| ConsumerReport {
                name: c.entry.name.clone(),
                state: if drained.contains_key(&c.key) { ConsumerState::Drained } else { ConsumerState::NotDrained },
                delivery: drained.get(&c.key).cloned().unwrap_or_default(),
                pending: 0,
            })
            .collect();
        if drained.len() < self.set.consumers.len() {
            self.abort.abort();
            self.log.stop();
            let calls = self.lanes.calls();
            for (consumer, report) in self.set.consumers.iter().zip(&mut consumers) {
                if drained.contains_key(&consumer.key) {
                    continue;
                }
                let pending = self.log.pending(consumer.cursor);
                report.pending = pending;
                let name = &consumer.entry.name;
                let failure = match calls.iter().find(|call| call.consumer == consumer.key) {
                    Some(call) => format!("consumer \"{name}\" is stuck in {} (for {:.1?}, past the drain timeout of {drain_timeout:?}); {pending} events were not delivered to it (counting the batch it is stuck in), and it gets no on_stop", call.hook, call.elapsed),
                    None => format!("consumer \"{name}\" did not drain within the drain timeout ({drain_timeout:?}); {pending} events were not delivered to it"),
                };
                self.status.failed(consumer.key, &failure);
                self.failures.push(failure);
            }
        }
        // Healthy consumers flush even when a neighbour is stuck. One that did not drain may
        // still be inside a hook; its lane holds the instance, so it gets neither on_stop nor
        // on_destroy, and the process exits around it.
        for consumer in self.set.consumers.iter().filter(|c| drained.contains_key(&c.key)) {
            consumer.instance.stop();
        }
        // Isolated consumers whose workers kept dying: the others ran on, but the run failed.
        // (A producer's thread ended with the reason, counted above.)
        self.failures.extend(self.set.consumers.iter().filter_map(|c| c.instance.failure()));
        // The disk log writes what is left and where each consumer stands.
        self.log.shutdown();
        self.failures.extend(self.log.failure());
        // After the last commit (or the log's stop), so that the notifier's wait has ended.
        self.commits.stop();
        let producers = self.set.producers.iter().map(|p| ProducerReport {
            name: p.entry.name.clone(),
            state: p.state,
            error: p.error.clone(),
        });
        self.report.producers.extend(producers);
        self.report.consumers.extend(consumers);
        drop(std::mem::take(&mut self.set));
        self.status.stopped();

        if self.failures.is_empty() {
            tracing::info!("evhost stopped cleanly");
            Ok(())
        } else {
            self.report.outcome = Outcome::Failed;
            self.report.failures.clone_from(&self.failures);
            Err(RunError::Runtime(self.failures.join("; ")))
        }
    }
}
