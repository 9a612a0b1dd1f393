//! The first part of shutdown: every producer is asked to stop, each on a thread of its
//! own (an `on_stop` that never returns must not hold up the drain), and has until half the
//! drain timeout to end: its `stop` (`on_stop`) to return, and an `on_run` producer's
//! `on_run` too. One that has not is named with its library and the hook it is in; the log
//! then closes to it, and the consumers, which delivered all along, have the rest of the
//! drain timeout to finish what the log accepted.

use std::time::Instant;

use super::{Event, Host};
use crate::report::ProducerState;

impl Host<'_> {
    /// Stops the producers, waiting for them until `deadline`.
    pub(super) fn stop_producers_for_shutdown(&mut self, deadline: Instant) {
        let mut running: Vec<usize> = self.set.producers.iter().filter(|p| p.on_host_thread).map(|p| p.key).collect();
        let mut stopping: Vec<usize> = Vec::new();
        for producer in &self.set.producers {
            let (instance, events, key) = (producer.instance.clone(), self.events.clone(), producer.key);
            let stop = move || {
                instance.stop();
                // Before it says so: the set's copy is then the last, and on_destroy runs
                // on the host's thread when shutdown drops it, not after the process exits.
                drop(instance);
                let _ = events.send(Event::ProducerStopped { key });
            };
            match std::thread::Builder::new().name(format!("stop:{}", producer.entry.name)).spawn(stop) {
                Ok(_) => stopping.push(key),
                Err(e) => {
                    tracing::warn!(producer = %producer.entry.name, "cannot start a thread to stop the producer ({e}); stopping it here");
                    producer.instance.stop();
                }
            }
        }
        while !(running.is_empty() && stopping.is_empty()) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event(left) {
                Some(Event::ProducerStopped { key }) => stopping.retain(|&k| k != key),
                Some(Event::ProducerDone { key, result }) => {
                    running.retain(|&k| k != key);
                    self.producer_done(key, result, true);
                }
                Some(Event::Signal(name)) => tracing::warn!("{name} received again; still stopping producers"),
                // A reload asked for now is not run: its caller hears that the host stops.
                Some(Event::Reload(_) | Event::Drained { .. }) => {}
                None => break,
            }
        }
        let busy = crate::loader::busy();
        let stuck = |key: &usize| running.contains(key) || stopping.contains(key);
        for producer in self.set.producers.iter_mut().filter(|p| stuck(&p.key)) {
            let name = &producer.entry.name;
            // Its hooks as the loader names them: `producer "x" (libx.so)`, and each hook a
            // thread of it is in (on_run, on_stop, or both). An isolated one runs in its worker.
            let who = format!("producer \"{name}\" (");
            let inside: Vec<&crate::loader::Busy> = busy.iter().filter(|b| b.site.who.starts_with(&who)).collect();
            let failure = match inside.first() {
                Some(first) => {
                    let hooks: Vec<&str> = inside.iter().map(|b| b.site.hook).collect();
                    format!("{} is stuck in {}", first.site.who, hooks.join(" and "))
                }
                None => {
                    let library = producer.entry.library.file_name().unwrap_or_default().to_string_lossy();
                    format!("producer \"{name}\" ({library}) is stuck")
                }
            };
            let limit = self.config.drain_timeout / 2;
            let failure = format!("{failure}: it did not stop within {limit:?}, half the drain timeout; the log took no more of its events, and it is not destroyed");
            producer.state = ProducerState::DidNotStop;
            self.status.failed(producer.key, &failure);
            self.failures.push(failure);
        }
    }
}
