//! The status registry: each instance's state, its counters and its last error, and
//! whether the host is ready. `run` writes it at the few points where a state changes
//! (created, started, finished, failed, draining, drained); the admin endpoint reads it.
//! Nothing here is touched per batch: counters are read from each instance's
//! [`Stats`](crate::stats::Stats) when someone asks.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};

use crate::config::{Config, InstanceConfig, Kind};
use crate::delivery::{Lanes, OVERRUN};
use crate::hosted::Hosted;
use crate::loader::InstanceHost;
use crate::log::{ConsumerId, Log};
use crate::stats::Stats;

/// Where an instance (or the whole host) is in its life.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Not yet created, or `on_create` (of it or one before it) has not returned.
    #[default]
    Creating,
    Running,
    /// Shutdown began: producers stop, consumers deliver what is left.
    Draining,
    /// A producer that finished or was stopped; a consumer that drained.
    Stopped,
    /// Its hook failed, or it did not drain or stop in time.
    Failed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Creating => "creating",
            State::Running => "running",
            State::Draining => "draining",
            State::Stopped => "stopped",
            State::Failed => "failed",
        }
    }

    pub const ALL: [State; 5] = [State::Creating, State::Running, State::Draining, State::Stopped, State::Failed];
}

/// One instance of the config.
pub struct Entry {
    pub name: String,
    pub kind: Kind,
    slot: Mutex<Slot>,
}

#[derive(Default)]
struct Slot {
    state: State,
    /// The plugin's own name, once its library is loaded.
    plugin: Option<String>,
    host: Option<&'static InstanceHost>,
    cursor: Option<ConsumerId>,
    /// Why it failed, as the run's failure says it.
    error: Option<String>,
}

/// What one look at an instance found.
pub struct Snapshot {
    pub name: String,
    pub kind: Kind,
    pub plugin: String,
    pub state: State,
    /// None until it was created.
    pub stats: Option<&'static Stats>,
    pub error: Option<String>,
    /// Consumers: events the log accepted that it has not acknowledged.
    pub lag: Option<u64>,
    /// Consumers: how long ago the oldest of those was appended.
    pub oldest_age: Option<Duration>,
}

/// An instance that keeps the host from being ready, and why.
#[derive(Debug, Serialize)]
pub struct NotReady {
    pub instance: String,
    pub kind: &'static str,
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

pub struct Status {
    since: Instant,
    phase: Mutex<State>,
    /// Consumers, then producers, in config order: the order `run` creates them in.
    entries: Vec<Entry>,
    consumers: usize,
    /// Held weakly: the registry must not keep the log (its folder lock) or the delivery
    /// threads alive past the run.
    log: OnceLock<Weak<Log>>,
    lanes: OnceLock<Weak<Lanes>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update is one assignment; a panic cannot leave a slot half-written.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Status {
    pub fn new(config: &Config) -> Status {
        let entry = |name: &str, kind| Entry { name: name.to_string(), kind, slot: Mutex::default() };
        let mut entries: Vec<Entry> = config.consumers.iter().map(|c| entry(&c.name, Kind::Consumer)).collect();
        entries.extend(config.producers.iter().map(|p| entry(&p.name, Kind::Producer)));
        Status {
            since: Instant::now(),
            phase: Mutex::new(State::Creating),
            entries,
            consumers: config.consumers.len(),
            log: OnceLock::new(),
            lanes: OnceLock::new(),
        }
    }

    fn slot(&self, kind: Kind, index: usize) -> MutexGuard<'_, Slot> {
        let at = match kind {
            Kind::Consumer => index,
            Kind::Producer => self.consumers + index,
        };
        lock(&self.entries[at].slot)
    }

    /// Every instance was created (in the order of the entries: consumers, then
    /// producers): their counters can be read from now on.
    pub fn created(&self, consumers: &[(InstanceConfig, Arc<Hosted>)], producers: &[(InstanceConfig, Arc<Hosted>)]) {
        for (entry, (_, instance)) in self.entries.iter().zip(consumers.iter().chain(producers)) {
            let mut slot = lock(&entry.slot);
            slot.plugin = Some(instance.plugin_name().to_string());
            slot.host = Some(instance.host());
        }
    }

    /// Consumer `index` reads the log through `cursor`.
    pub fn joined(&self, index: usize, cursor: ConsumerId) {
        self.slot(Kind::Consumer, index).cursor = Some(cursor);
    }

    /// Where lag and stuck calls are read.
    pub fn attach(&self, log: &Arc<Log>, lanes: &Arc<Lanes>) {
        let _ = self.log.set(Arc::downgrade(log));
        let _ = self.lanes.set(Arc::downgrade(lanes));
    }

    pub fn log(&self) -> Option<Arc<Log>> {
        self.log.get().and_then(Weak::upgrade)
    }

    pub fn set(&self, kind: Kind, index: usize, state: State) {
        self.slot(kind, index).state = state;
    }

    pub fn failed(&self, kind: Kind, index: usize, error: &str) {
        let mut slot = self.slot(kind, index);
        slot.state = State::Failed;
        slot.error = Some(error.to_string());
    }

    /// Every instance was started: those not failed are running.
    pub fn running(&self) {
        self.each_state(|state| if state == State::Creating { State::Running } else { state });
        *lock(&self.phase) = State::Running;
    }

    /// Shutdown began.
    pub fn draining(&self) {
        self.each_state(|state| if state == State::Running { State::Draining } else { state });
        *lock(&self.phase) = State::Draining;
    }

    /// The run is over: instances still draining did not fail, so they stopped.
    pub fn stopped(&self) {
        self.each_state(|state| if state == State::Draining { State::Stopped } else { state });
        *lock(&self.phase) = State::Stopped;
    }

    fn each_state(&self, change: impl Fn(State) -> State) {
        for entry in &self.entries {
            let mut slot = lock(&entry.slot);
            slot.state = change(slot.state);
        }
    }

    pub fn phase(&self) -> State {
        *lock(&self.phase)
    }

    /// Every instance as it is now.
    pub fn snapshot(&self) -> Vec<Snapshot> {
        let log = self.log();
        self.entries
            .iter()
            .map(|entry| {
                let slot = lock(&entry.slot);
                let stats = slot.host.map(|host| &host.stats);
                Snapshot {
                    name: entry.name.clone(),
                    kind: entry.kind,
                    plugin: slot.plugin.clone().unwrap_or_default(),
                    state: slot.state,
                    stats,
                    error: slot.error.clone().or_else(|| stats.and_then(Stats::last_error)),
                    lag: slot.cursor.zip(log.as_ref()).map(|(cursor, log)| log.pending(cursor)),
                    oldest_age: slot.cursor.zip(log.as_ref()).and_then(|(cursor, log)| log.oldest_pending_age(cursor)),
                }
            })
            .collect()
    }

    /// The instances that keep the host from being ready; none when it is. Ready means:
    /// every instance was created and started, none failed, and no consumer has been inside
    /// one hook call past the watchdog's [`OVERRUN`] (the point where the host itself calls
    /// it stuck and moves its neighbours away).
    pub fn not_ready(&self) -> Vec<NotReady> {
        let phase = self.phase();
        let calls = self.lanes.get().and_then(Weak::upgrade).map(|lanes| lanes.calls()).unwrap_or_default();
        let mut not_ready = Vec::new();
        for (at, entry) in self.entries.iter().enumerate() {
            let slot = lock(&entry.slot);
            let reason = match slot.state {
                State::Creating => Some("being created: the host is still calling the instances' on_create".into()),
                State::Failed => Some(slot.error.clone().unwrap_or_else(|| "failed".into())),
                // A producer may finish by itself while the host runs on.
                State::Stopped if phase == State::Running => None,
                State::Draining | State::Stopped => Some("the host is shutting down".into()),
                State::Running => calls
                    .iter()
                    .find(|call| entry.kind == Kind::Consumer && call.consumer == at && call.elapsed >= OVERRUN)
                    .map(|call| format!("stuck: in {} for {:.1?} (more than {OVERRUN:?})", call.hook, call.elapsed)),
            };
            if let Some(reason) = reason {
                not_ready.push(NotReady {
                    instance: entry.name.clone(),
                    kind: entry.kind.as_str(),
                    state: slot.state,
                    reason: Some(reason),
                });
            }
        }
        not_ready
    }

    /// `GET /v1/status`: the host's state, the log's levels and every instance.
    pub fn json(&self) -> Value {
        let instances: Vec<Value> = self
            .snapshot()
            .into_iter()
            .map(|s| {
                let counters = s.stats.map(|stats| {
                    let mut counters = json!({
                        "events": Stats::get(&stats.events),
                        "bytes": Stats::get(&stats.bytes),
                        "batches": Stats::get(&stats.batches),
                        "errors": Stats::get(&stats.errors),
                        "retries": Stats::get(&stats.retries),
                        "dead_lettered": Stats::get(&stats.dead_lettered),
                        "lost": Stats::get(&stats.lost),
                        "dropped": Stats::get(&stats.dropped),
                    });
                    // Consumers are not counted in bytes: that would cost a sum per event.
                    if s.kind == Kind::Consumer {
                        counters.as_object_mut().expect("an object").remove("bytes");
                    }
                    counters
                });
                let mut instance = json!({
                    "name": s.name,
                    "kind": s.kind.as_str(),
                    "plugin": s.plugin,
                    "state": s.state,
                    "error": s.error,
                    "counters": counters,
                });
                if let Some(lag) = s.lag {
                    instance["lag"] = lag.into();
                }
                if let Some(age) = s.oldest_age {
                    instance["oldest_undelivered_age_seconds"] = age.as_secs_f64().into();
                }
                instance
            })
            .collect();
        let log = self.log().map(|log| {
            let g = log.gauges();
            json!({
                "events": g.events, "bytes": g.bytes, "capacity": g.capacity, "max_bytes": g.max_bytes,
                "producers_waiting": g.producers_waiting, "next_seq": g.head,
                "disk": g.disk.map(|d| json!({ "segments": d.segments, "bytes": d.bytes, "max_bytes": d.max_bytes })),
            })
        });
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "abi": super::abi_version(),
            "state": self.phase(),
            "ready": self.not_ready().is_empty(),
            "uptime_seconds": self.since.elapsed().as_secs_f64(),
            "log": log,
            "instances": instances,
        })
    }
}
