//! Delivery: a few threads, sized to the machine, each serving several consumers. A thread
//! takes turns: for each of its consumers it reads a batch from that consumer's cursor and
//! hands it to the plugin. OK advances the cursor; RETRY schedules the unhandled rest again
//! after a backoff (the thread serves the others meanwhile), up to the retry limit; FAIL, an
//! unknown status, or exhausted retries send the rest to the dead-letter target, and
//! delivery goes on. When none of its consumers has work, the thread spins briefly and parks.
//!
//! A consumer whose `on_events` call takes long would hold up the others on its thread, so
//! after a few slow calls in a row it is moved to a thread of its own. (One slow call proves
//! nothing: a thread preempted mid-call looks slow too, and on a small machine that happens.)

mod dead_letter;
mod retry;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use evhost_abi as evh;

use crate::bus::{Batch, Bus, ConsumerId, Read};
use crate::config::DeliveryConfig;
use crate::loader::Instance;
use dead_letter::DeadLetter;
use retry::Backoff;

/// A call longer than this is slow; `SLOW_CALLS` of them in a row move a consumer to a
/// thread of its own.
const SLOW_CALL: Duration = Duration::from_millis(1);
const SLOW_CALLS: u32 = 3;

/// What one consumer's delivery did, for the shutdown summary.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub delivered: u64,
    pub dead_lettered: u64,
    pub dropped: u64,
    pub retries: u64,
}

/// Set when shutdown gives up at its deadline: pending retries are not waited for.
#[derive(Default)]
pub struct Abort(AtomicBool);

impl Abort {
    pub fn abort(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn is_aborted(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// One consumer's delivery state.
pub struct Consumer {
    /// Its position in the config, to report back.
    pub index: usize,
    pub instance: Arc<Instance>,
    pub id: ConsumerId,
    pub config: DeliveryConfig,
    dead_letter: DeadLetter,
    backoff: Backoff,
    report: Report,
    batch: Batch,
    /// The batch in hand: the next event to deliver, and the retry under way.
    from: usize,
    attempt: u32,
    retry_at: Option<Instant>,
    /// Slow calls in a row.
    slow_calls: u32,
}

impl Consumer {
    pub fn new(index: usize, instance: Arc<Instance>, id: ConsumerId, config: DeliveryConfig) -> Self {
        Consumer {
            index,
            dead_letter: DeadLetter::new(&instance.host.name, config.dead_letter.clone()),
            backoff: Backoff { first: config.backoff_first, max: config.backoff_max },
            instance,
            id,
            config,
            report: Report::default(),
            batch: Batch::default(),
            from: 0,
            attempt: 0,
            retry_at: None,
            slow_calls: 0,
        }
    }

    fn name(&self) -> &str {
        &self.instance.host.name
    }
}

/// What one turn of a consumer did.
enum Turn {
    /// Delivered (or dead-lettered) something; `slow` after `SLOW_CALLS` slow calls in a row.
    Worked { slow: bool },
    /// Nothing to do until events arrive, or until the given time (a retry).
    Idle(Option<Instant>),
    /// Drained to the end of a closed log.
    Ended,
}

/// Delivers on the calling thread until every consumer has drained a closed log; each
/// consumer's report goes to `done` as it ends.
pub struct Pool {
    pub bus: Arc<Bus>,
    pub abort: Arc<Abort>,
    pub done: Sender<(usize, Report)>,
}

impl Pool {
    /// Starts a delivery thread for `consumers`. If the thread cannot start, they come back
    /// with the error: a consumer dropped here would hold back the log forever.
    pub fn spawn(
        self: &Arc<Self>,
        name: String,
        consumers: Vec<Consumer>,
    ) -> Result<(), (std::io::Error, Vec<Consumer>)> {
        let (handover, handed) = std::sync::mpsc::sync_channel(1);
        let pool = self.clone();
        let thread = std::thread::Builder::new().name(name).spawn(move || {
            if let Ok(consumers) = handed.recv() {
                pool.run(consumers)
            }
        });
        match thread {
            // The thread waits in `recv` until the send.
            Ok(_) => handover.send(consumers).map_err(|e| (std::io::Error::other("delivery thread gone"), e.0)),
            Err(e) => Err((e, consumers)),
        }
    }

    fn run(self: &Arc<Self>, mut consumers: Vec<Consumer>) {
        while !consumers.is_empty() {
            let seen = self.bus.head();
            let mut worked = false;
            let mut wake_at: Option<Instant> = None;
            let mut i = 0;
            while i < consumers.len() {
                match self.turn(&mut consumers[i]) {
                    Turn::Worked { slow } => {
                        worked = true;
                        if slow && consumers.len() > 1 {
                            let consumer = consumers.swap_remove(i);
                            tracing::info!(consumer = %consumer.name(), "on_events took over {SLOW_CALL:?} {SLOW_CALLS} times in a row; this consumer gets a delivery thread of its own so the others are not held up");
                            let name = format!("deliver:{}", consumer.name());
                            if let Err((e, back)) = self.spawn(name, vec![consumer]) {
                                tracing::error!("cannot start a delivery thread ({e}); the consumer stays on this one");
                                for mut consumer in back {
                                    consumer.slow_calls = 0;
                                    consumers.push(consumer);
                                }
                            }
                            continue;
                        }
                    }
                    Turn::Idle(at) => {
                        wake_at = match (wake_at, at) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        }
                    }
                    Turn::Ended => {
                        let consumer = consumers.swap_remove(i);
                        let _ = self.done.send((consumer.index, consumer.report));
                        continue;
                    }
                }
                i += 1;
            }
            if !worked && !consumers.is_empty() {
                self.bus.wait(seen, wake_at);
            }
        }
    }

    /// Gives one consumer one batch's worth of work, if it has any.
    fn turn(&self, c: &mut Consumer) -> Turn {
        if c.from >= c.batch.len() {
            match self.bus.try_read(c.id, c.config.batch, &mut c.batch) {
                Read::Events { dropped } => {
                    if dropped > 0 {
                        c.report.dropped += dropped;
                        tracing::warn!(consumer = %c.name(), dropped, "consumer fell a full log behind; policy drop_oldest skipped the oldest events");
                    }
                    c.from = 0;
                    c.attempt = 0;
                }
                Read::Empty => return Turn::Idle(None),
                Read::End => return Turn::Ended,
            }
        }
        if let Some(at) = c.retry_at {
            if Instant::now() < at && !self.abort.is_aborted() {
                return Turn::Idle(Some(at));
            }
            c.retry_at = None;
        }
        let started = Instant::now();
        let answer = c.instance.deliver(&c.batch, c.from);
        c.slow_calls = if started.elapsed() > SLOW_CALL { c.slow_calls.saturating_add(1) } else { 0 };
        c.report.delivered += answer.handled as u64;
        c.from += answer.handled;
        if answer.status != evh::EVH_OK && c.from < c.batch.len() {
            self.failed(c, answer.status);
        }
        if c.from >= c.batch.len() {
            self.bus.commit(c.id, &mut c.batch);
        }
        Turn::Worked { slow: c.slow_calls >= SLOW_CALLS }
    }

    /// Handles RETRY and FAIL: schedules a retry, or dead-letters the rest of the batch.
    fn failed(&self, c: &mut Consumer, status: evh::evh_status) {
        let message = c.instance.host.take_error().unwrap_or_default();
        let reason = format!("{}{}{}", evh::status_name(status), if message.is_empty() { "" } else { ": " }, message);
        let aborted = self.abort.is_aborted();
        if status == evh::EVH_RETRY && c.attempt < c.config.retry_attempts && !aborted {
            c.attempt += 1;
            c.report.retries += 1;
            let delay = c.backoff.delay(c.attempt);
            tracing::warn!(consumer = %c.name(), attempt = c.attempt, ?delay, "{reason}; retrying {} events", c.batch.len() - c.from);
            c.retry_at = Some(Instant::now() + delay);
            return;
        }
        let reason = match status {
            evh::EVH_RETRY if aborted => format!("{reason} (shutdown deadline passed while retrying)"),
            evh::EVH_RETRY => format!("{reason} (gave up after {} retries)", c.attempt),
            evh::EVH_FAIL => reason,
            other => format!("unexpected status {other} from on_events, treated as EVH_FAIL: {reason}"),
        };
        match c.dead_letter.write(c.batch.iter_from(c.from), &reason) {
            Ok(count) => {
                c.report.dead_lettered += count as u64;
                tracing::error!(consumer = %c.name(), events = count, "batch failed: {reason}; sent to the dead-letter target");
            }
            Err(e) => {
                tracing::error!(consumer = %c.name(), "batch failed ({reason}) and writing the dead-letter file failed: {e}")
            }
        }
        c.from = c.batch.len();
    }
}

/// How many delivery threads to start: one per core left after the producers' one, at
/// least one, and no more than there are consumers.
pub fn thread_count(consumers: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.saturating_sub(1).clamp(1, consumers.max(1))
}
