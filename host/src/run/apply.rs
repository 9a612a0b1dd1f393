//! A checked reload made the running set, in order: producers that go are stopped;
//! consumers that go deliver what they have (removed: up to the newest event; replaced: the
//! batch in hand), get `on_stop` and `on_destroy`, and leave the log; new consumers join (a
//! replacement takes over its predecessor's place in the log, so nothing is lost or
//! delivered twice); new producers start. Unchanged instances are not touched.

use std::collections::HashMap;
use std::time::Instant;

use super::plan::{Change, Plan};
use super::set::{LiveConsumer, LiveProducer};
use super::{Event, Host, STOP_GRACE};
use crate::admin::State;
use crate::config::{Config, InstanceConfig, Kind};
use crate::delivery::Report;
use crate::log::ConsumerId;
use crate::report::{ConsumerReport, ConsumerState, ProducerReport, ProducerState};
use crate::startup::Created;

/// The positions of the running instances `list` replaces.
fn replaced(list: &[(InstanceConfig, Change)]) -> Vec<usize> {
    list.iter().filter_map(|(_, change)| if let Change::Replace(at) = change { Some(*at) } else { None }).collect()
}

impl Host<'_> {
    /// Makes the plan the running set. Nothing here can refuse: what could was checked.
    pub(super) fn apply(&mut self, plan: Plan, created: Created, config: Config) {
        let deadline = Instant::now() + config.drain_timeout;
        let mut producers: Vec<Option<LiveProducer>> =
            std::mem::take(&mut self.set.producers).into_iter().map(Some).collect();
        let mut consumers: Vec<Option<LiveConsumer>> =
            std::mem::take(&mut self.set.consumers).into_iter().map(Some).collect();
        let leaving: Vec<LiveProducer> = plan
            .removed_producers
            .iter()
            .chain(&replaced(&plan.producers))
            .filter_map(|&at| producers[at].take())
            .collect();
        self.stop_producers(leaving, deadline);
        let replaced_consumers = replaced(&plan.consumers);
        let leaving: Vec<(LiveConsumer, bool)> = plan
            .removed_consumers
            .iter()
            .map(|&at| (at, true))
            .chain(replaced_consumers.iter().map(|&at| (at, false)))
            .filter_map(|(at, drain)| consumers[at].take().map(|c| (c, drain)))
            .collect();
        let handed_over = self.retire_consumers(leaving, deadline);

        let mut fresh = Vec::new();
        for ((entry, change), instance) in plan.consumers.into_iter().zip(created.consumers) {
            let live = match (change, instance) {
                (Change::Keep(at), _) => {
                    let mut live = consumers[at].take().expect("each running instance is kept once");
                    live.entry = entry;
                    live
                }
                (change, Some(instance)) => {
                    let key = self.status.new_key();
                    let policy = entry.delivery.policy;
                    let cursor = match change {
                        Change::Replace(_) => match handed_over.get(&entry.name) {
                            Some(&old) => self.log.take_over(old, policy),
                            None => self.log.join(&entry.name, policy, entry.delivery.start),
                        },
                        _ => self.log.join(&entry.name, policy, entry.delivery.start),
                    };
                    fresh.push(self.set.consumers.len());
                    LiveConsumer { key, entry, instance, cursor }
                }
                (_, None) => unreachable!("every added or replaced consumer was created"),
            };
            self.set.consumers.push(live);
        }
        let mut starting = Vec::new();
        for ((entry, change), instance) in plan.producers.into_iter().zip(created.producers) {
            let live = match (change, instance) {
                (Change::Keep(at), _) => {
                    let mut live = producers[at].take().expect("each running instance is kept once");
                    live.entry = entry;
                    live
                }
                (_, Some(instance)) => {
                    starting.push(self.set.producers.len());
                    LiveProducer::new(self.status.new_key(), entry, instance)
                }
                (_, None) => unreachable!("every added or replaced producer was created"),
            };
            self.set.producers.push(live);
        }

        let order: Vec<(usize, &str, Kind)> = self
            .set
            .consumers
            .iter()
            .map(|c| (c.key, c.entry.name.as_str(), Kind::Consumer))
            .chain(self.set.producers.iter().map(|p| (p.key, p.entry.name.as_str(), Kind::Producer)))
            .collect();
        self.status.reconfigure(&order);
        for &at in &fresh {
            let c = &self.set.consumers[at];
            self.status.created(c.key, &c.instance);
            self.status.joined(c.key, c.cursor);
            self.status.set(c.key, State::Running);
        }
        if let Err(e) = self.deliver(&fresh) {
            tracing::error!("{e}");
            self.failures.push(e);
        }
        for at in starting {
            let p = &self.set.producers[at];
            self.status.created(p.key, &p.instance);
            self.status.set(p.key, State::Running);
            if let Err(e) = self.commits.watch(&self.set.producers[at].instance) {
                tracing::error!("cannot start the commit notification thread: {e}");
            }
            // A reload does not stop the host: a producer that fails to start shows as
            // failed (in /readyz too), and the next reload tries it again.
            if let Err(e) = self.start_producer(at) {
                tracing::error!("{e}");
            }
        }
        self.watch.set_limit(config.drain_timeout, STOP_GRACE);
        self.config = config;
    }

    /// Stops producers a reload removed or replaced, waiting for their `on_run` to return
    /// until `deadline`; one that does not is left on its thread, destroyed when it returns.
    fn stop_producers(&mut self, leaving: Vec<LiveProducer>, deadline: Instant) {
        // Still watched while they stop, as at shutdown: a producer's on_stop may wait for
        // tickets that its on_committed resolves (the Rust SDK's `Ticket::committed`).
        for producer in &leaving {
            producer.instance.stop();
        }
        let mut waiting: Vec<usize> = leaving.iter().filter(|p| p.on_host_thread).map(|p| p.key).collect();
        while !waiting.is_empty() {
            let wanted = |e: &Event| matches!(e, Event::ProducerDone { key, .. } if waiting.contains(key));
            // None at the deadline; never another kind of event (only those are wanted).
            let Some(Event::ProducerDone { key, result }) = self.next_reload_event(deadline, wanted) else { break };
            waiting.retain(|k| *k != key);
            if let Err(e) = result {
                let name = leaving.iter().find(|p| p.key == key).map_or("", |p| &p.entry.name);
                tracing::warn!(producer = %name, "producer failed as the reload stopped it: {e}");
            }
        }
        for producer in leaving {
            self.commits.unwatch(&producer.instance);
            let stuck = waiting.contains(&producer.key);
            if stuck {
                tracing::error!(producer = %producer.entry.name, "producer did not stop within the drain timeout; it is left on its thread, and destroyed when its on_run returns");
            }
            let state = if stuck { ProducerState::DidNotStop } else { ProducerState::Removed };
            self.report.producers.push(ProducerReport { name: producer.entry.name.clone(), state, error: None });
        }
    }

    /// Retires consumers a reload removed (`true`: they drain up to the newest event) or
    /// replaced (`false`: they finish the batch in hand), waiting for them until `deadline`;
    /// then on_stop and on_destroy. Returns where each replaced one stopped, by name, for
    /// its successor to take over. One that did not finish in time is left to its delivery
    /// thread (destroyed when its call returns), and its successor starts where it stands.
    fn retire_consumers(
        &mut self,
        leaving: Vec<(LiveConsumer, bool)>,
        deadline: Instant,
    ) -> HashMap<String, ConsumerId> {
        for (consumer, drain) in &leaving {
            self.log.retire(consumer.cursor, *drain);
        }
        let mut drained: HashMap<usize, Report> = HashMap::new();
        while drained.len() < leaving.len() {
            let wanted =
                |e: &Event| matches!(e, Event::Drained { key, .. } if leaving.iter().any(|(c, _)| c.key == *key));
            let Some(Event::Drained { key, report }) = self.next_reload_event(deadline, wanted) else { break };
            drained.insert(key, report);
        }
        let mut handed_over = HashMap::new();
        for (consumer, drain) in leaving {
            let name = consumer.entry.name.clone();
            let report = match drained.remove(&consumer.key) {
                Some(delivery) => {
                    consumer.instance.stop();
                    tracing::info!(consumer = %name, delivered = delivery.delivered, "consumer {} by the reload has stopped", if drain { "removed" } else { "replaced" });
                    ConsumerReport { name: name.clone(), state: ConsumerState::Removed, delivery, pending: 0 }
                }
                None => {
                    let pending = self.log.pending(consumer.cursor);
                    tracing::error!(consumer = %name, pending, "consumer did not finish within the drain timeout as the reload retired it; it gets no on_stop, and is destroyed when its call returns");
                    ConsumerReport {
                        name: name.clone(),
                        state: ConsumerState::NotDrained,
                        delivery: Report::default(),
                        pending,
                    }
                }
            };
            self.report.consumers.push(report);
            if drain {
                self.log.leave(consumer.cursor);
            } else {
                handed_over.insert(name, consumer.cursor);
            }
        }
        handed_over
    }

    /// The next event a reload waits for (`wanted`), until `deadline`: first among those set
    /// aside while an earlier reload waited, then from the inbox. The others are set aside,
    /// in order, for the run loop.
    fn next_reload_event(&mut self, deadline: Instant, wanted: impl Fn(&Event) -> bool) -> Option<Event> {
        if let Some(at) = self.deferred.iter().position(&wanted) {
            return self.deferred.remove(at);
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = self.inbox.recv_timeout(left).ok()?;
            if wanted(&event) {
                return Some(event);
            }
            self.deferred.push_back(event);
        }
    }
}
