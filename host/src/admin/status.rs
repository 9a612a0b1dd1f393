//! The status registry: each instance's state, its counters and its last error, and
//! whether the host is ready. `run` writes it at the few points where a state changes
//! (created, started, finished, failed, draining, drained, reloaded); the admin endpoint
//! reads it. Instances are known by a key that stays with them across reloads and is never
//! reused; the registry lists the instances of the config running now, in its order.
//! Nothing here is touched per batch: counters are read from each instance's
//! [`Stats`](crate::stats::Stats) when someone asks.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};

use crate::config::{Config, Kind};
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
    pub key: usize,
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
    /// Held weakly, to ask an isolated instance whether it is restarting.
    instance: Option<Weak<Hosted>>,
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
    /// An isolated instance waiting out a restart: why, and when the next try is.
    pub restarting: Option<String>,
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
    entries: Mutex<Vec<Arc<Entry>>>,
    /// The key the next new instance gets.
    next_key: AtomicUsize,
    /// Reloads done and refused.
    reloads: [AtomicU64; 2],
    /// Held weakly: the registry must not keep the log (its folder lock) or the delivery
    /// threads alive past the run.
    log: OnceLock<Weak<Log>>,
    lanes: OnceLock<Weak<Lanes>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update is one assignment; a panic cannot leave a slot half-written.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Why the instance in `slot` is being restarted, if it is (while it runs).
fn restart_of(slot: &Slot) -> Option<String> {
    if slot.state != State::Running {
        return None;
    }
    slot.instance.as_ref().and_then(Weak::upgrade).and_then(|instance| instance.restarting())
}

fn entry(key: usize, name: &str, kind: Kind) -> Arc<Entry> {
    Arc::new(Entry { key, name: name.to_string(), kind, slot: Mutex::default() })
}

impl Status {
    /// The instances of `config`, being created: consumer `i` has key `i`, and producer `j`
    /// key `consumers + j`.
    pub fn new(config: &Config) -> Status {
        let consumers = config.consumers.iter().map(|c| (c.name.as_str(), Kind::Consumer));
        let producers = config.producers.iter().map(|p| (p.name.as_str(), Kind::Producer));
        let entries: Vec<Arc<Entry>> =
            consumers.chain(producers).enumerate().map(|(key, (name, kind))| entry(key, name, kind)).collect();
        Status {
            since: Instant::now(),
            phase: Mutex::new(State::Creating),
            next_key: AtomicUsize::new(entries.len()),
            entries: Mutex::new(entries),
            reloads: Default::default(),
            log: OnceLock::new(),
            lanes: OnceLock::new(),
        }
    }

    /// A key no instance had.
    pub fn new_key(&self) -> usize {
        self.next_key.fetch_add(1, Ordering::Relaxed)
    }

    /// A reload made this the running set, in config order: instances that stay keep
    /// their entry, new ones get one (being created until told otherwise).
    pub fn reconfigure(&self, instances: &[(usize, &str, Kind)]) {
        let mut entries = lock(&self.entries);
        let next: Vec<Arc<Entry>> = instances
            .iter()
            .map(|&(key, name, kind)| {
                entries.iter().find(|e| e.key == key).cloned().unwrap_or_else(|| entry(key, name, kind))
            })
            .collect();
        *entries = next;
    }

    /// A reload was done (`ok`) or refused.
    pub fn reloaded(&self, ok: bool) {
        self.reloads[usize::from(!ok)].fetch_add(1, Ordering::Relaxed);
    }

    /// Reloads done and refused so far.
    pub fn reloads(&self) -> (u64, u64) {
        (self.reloads[0].load(Ordering::Relaxed), self.reloads[1].load(Ordering::Relaxed))
    }

    fn entries(&self) -> Vec<Arc<Entry>> {
        lock(&self.entries).clone()
    }

    /// Changes the slot of instance `key`, if it is in the running set.
    fn with_slot(&self, key: usize, change: impl FnOnce(&mut Slot)) {
        if let Some(entry) = lock(&self.entries).iter().find(|e| e.key == key) {
            change(&mut lock(&entry.slot));
        }
    }

    /// Instance `key` was created: its counters can be read from now on.
    pub fn created(&self, key: usize, instance: &Arc<Hosted>) {
        self.with_slot(key, |slot| {
            slot.plugin = Some(instance.plugin_name().to_string());
            slot.host = Some(instance.host());
            slot.instance = Some(Arc::downgrade(instance));
        });
    }

    /// Consumer `key` reads the log through `cursor`.
    pub fn joined(&self, key: usize, cursor: ConsumerId) {
        self.with_slot(key, |slot| slot.cursor = Some(cursor));
    }

    /// Where lag and stuck calls are read.
    pub fn attach(&self, log: &Arc<Log>, lanes: &Arc<Lanes>) {
        let _ = self.log.set(Arc::downgrade(log));
        let _ = self.lanes.set(Arc::downgrade(lanes));
    }

    pub fn log(&self) -> Option<Arc<Log>> {
        self.log.get().and_then(Weak::upgrade)
    }

    /// The state of instance `key`, if it is in the running set.
    pub fn state(&self, key: usize) -> Option<State> {
        lock(&self.entries).iter().find(|e| e.key == key).map(|entry| lock(&entry.slot).state)
    }

    pub fn set(&self, key: usize, state: State) {
        self.with_slot(key, |slot| slot.state = state);
    }

    pub fn failed(&self, key: usize, error: &str) {
        self.with_slot(key, |slot| {
            slot.state = State::Failed;
            slot.error = Some(error.to_string());
        });
    }

    /// Every instance was started: those not failed are running, unless a stop came
    /// meanwhile (see `draining`).
    pub fn running(&self) {
        let mut phase = lock(&self.phase);
        let now = if *phase == State::Draining { State::Draining } else { State::Running };
        self.each_state(|state| if state == State::Creating { now } else { state });
        *phase = now;
    }

    /// Shutdown began: called as the signal comes, before the run loop gets to it, so the
    /// phase changes first and /readyz never answers 200 after it.
    pub fn draining(&self) {
        *lock(&self.phase) = State::Draining;
        self.each_state(|state| if state == State::Running { State::Draining } else { state });
    }

    /// The run is over: instances still draining did not fail, so they stopped.
    pub fn stopped(&self) {
        self.each_state(|state| if state == State::Draining { State::Stopped } else { state });
        *lock(&self.phase) = State::Stopped;
    }

    fn each_state(&self, change: impl Fn(State) -> State) {
        for entry in self.entries() {
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
        self.entries()
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
                    restarting: restart_of(&slot),
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
        for entry in self.entries() {
            let slot = lock(&entry.slot);
            let reason = match slot.state {
                State::Failed => Some(slot.error.clone().unwrap_or_else(|| "failed".into())),
                // The phase changes first (a signal, a reload still running): every instance
                // the host goes on with is shutting down, whatever its own state says yet.
                _ if matches!(phase, State::Draining | State::Stopped) => Some("the host is shutting down".into()),
                State::Creating => Some("being created: the host is still calling the instances' on_create".into()),
                // A producer may finish by itself while the host runs on.
                State::Stopped if phase == State::Running => None,
                State::Draining | State::Stopped => Some("the host is shutting down".into()),
                // Its delivery call waits out the backoff: that is a restart, not a stuck hook
                // (see `restarting`); the restarts running out fail it.
                State::Running if restart_of(&slot).is_some() => None,
                State::Running => calls
                    .iter()
                    .find(|call| entry.kind == Kind::Consumer && call.consumer == entry.key && call.elapsed >= OVERRUN)
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

    /// Isolated instances whose worker died and is being restarted, and why. They do not
    /// keep the host from being ready (their events wait in the log, and the restarts
    /// running out fail them), but /readyz names them.
    pub fn restarting(&self) -> Vec<NotReady> {
        let mut list = Vec::new();
        for entry in self.entries() {
            let slot = lock(&entry.slot);
            if let Some(reason) = restart_of(&slot) {
                list.push(NotReady {
                    instance: entry.name.clone(),
                    kind: entry.kind.as_str(),
                    state: slot.state,
                    reason: Some(reason),
                });
            }
        }
        list
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
                        "failed": Stats::get(&stats.failed),
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
                if let Some(restarting) = &s.restarting {
                    instance["restarting"] = restarting.as_str().into();
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
        let (ok, failed) = self.reloads();
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "abi": super::abi_version(),
            "state": self.phase(),
            "reloads": { "ok": ok, "failed": failed },
            "ready": self.not_ready().is_empty(),
            "uptime_seconds": self.since.elapsed().as_secs_f64(),
            "log": log,
            "instances": instances,
        })
    }
}
