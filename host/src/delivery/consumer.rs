//! One consumer's delivery state and its turn: read a batch, hand it to the plugin, and act
//! on the answer (advance, retry, dead-letter, or count as lost what cannot be written).

use std::sync::Arc;
use std::time::{Duration, Instant};

use evhost_abi as evh;

use super::dead_letter::{DeadLetter, Letters};
use super::lane::{Lane, Lanes};
use super::retry::Backoff;
use super::unkept::{Due, Unkept};
use crate::config::DeliveryConfig;
use crate::hosted::Hosted;
use crate::log::{Batch, ConsumerId, Read};
use crate::stats::Stats;

/// A call longer than this is slow; `SLOW_CALLS` of them in a row move a consumer to a
/// thread of its own.
const SLOW_CALL: Duration = Duration::from_millis(1);
const SLOW_CALLS: u32 = 3;

/// Tries at writing one batch's dead letters before they count as lost, and the wait
/// before the first retry (doubling each time: 50, 100, 200 ms). A full disk or a removed
/// folder often comes back within that time; meanwhile the thread serves its other
/// consumers, so only this one waits.
const DEAD_LETTER_TRIES: u32 = 4;
const DEAD_LETTER_BACKOFF: Duration = Duration::from_millis(50);

/// What one consumer's delivery did, for the shutdown summary.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Report {
    pub delivered: u64,
    pub dead_lettered: u64,
    /// Failed events kept nowhere: the consumer has no dead-letter file.
    pub failed: u64,
    /// Failed events that could not be written to the dead-letter file either.
    pub lost: u64,
    pub dropped: u64,
    pub retries: u64,
}

/// Dead letters of the batch in hand that are not written yet.
struct Unwritten {
    letters: Letters,
    reason: String,
    tries: u32,
}

/// One consumer's delivery state.
pub struct Consumer {
    /// Its key (stable across reloads, never reused), to report back.
    pub index: usize,
    pub instance: Arc<Hosted>,
    pub id: ConsumerId,
    pub config: DeliveryConfig,
    pub(super) name: String,
    dead_letter: Option<DeadLetter>,
    backoff: Backoff,
    batch: Batch,
    /// The batch in hand: the next event to deliver, and the retry under way.
    from: usize,
    attempt: u32,
    retry_at: Option<Instant>,
    unwritten: Option<Unwritten>,
    /// Slow calls in a row.
    pub(super) slow_calls: u32,
    /// Failed events kept nowhere, for want of a dead-letter file, and when they were said.
    unkept: Unkept,
}

/// What one turn of a consumer did.
pub(super) enum Turn {
    /// Delivered (or dead-lettered) something; `slow` after `SLOW_CALLS` slow calls in a row.
    Worked { slow: bool },
    /// Nothing to do until events arrive, or until the given time (a retry).
    Idle(Option<Instant>),
    /// Drained to the end of a closed log.
    Ended,
}

impl Consumer {
    fn stats(&self) -> &'static Stats {
        &self.instance.host().stats
    }

    /// What its delivery did so far.
    pub fn report(&self) -> Report {
        let stats = self.stats();
        Report {
            delivered: Stats::get(&stats.events),
            dead_lettered: Stats::get(&stats.dead_lettered),
            failed: Stats::get(&stats.failed),
            lost: Stats::get(&stats.lost),
            dropped: Stats::get(&stats.dropped),
            retries: Stats::get(&stats.retries),
        }
    }

    pub fn new(index: usize, instance: Arc<Hosted>, id: ConsumerId, config: DeliveryConfig) -> Self {
        let name = instance.host().name.clone();
        Consumer {
            index,
            dead_letter: config.dead_letter.clone().map(|path| DeadLetter::new(&name, path)),
            name,
            backoff: Backoff { first: config.backoff_first, max: config.backoff_max },
            instance,
            id,
            config,
            batch: Batch::default(),
            from: 0,
            attempt: 0,
            retry_at: None,
            unwritten: None,
            slow_calls: 0,
            unkept: Unkept::default(),
        }
    }

    /// Gives this consumer one batch's worth of work, if it has any.
    pub(super) fn turn(&mut self, lanes: &Lanes, lane: &Lane) -> Turn {
        if self.from >= self.batch.len() {
            match lanes.log.try_read(self.id, self.config.batch, &mut self.batch) {
                Read::Events { dropped } => {
                    if dropped > 0 {
                        Stats::add(&self.stats().dropped, dropped);
                        tracing::warn!(consumer = %self.name, dropped, "consumer fell a full log behind; policy drop_oldest skipped the oldest events");
                    }
                    self.from = 0;
                    self.attempt = 0;
                }
                Read::Empty => return Turn::Idle(None),
                Read::End => {
                    let total = self.unkept.total;
                    if total > 0 {
                        tracing::error!(consumer = %self.name, events = total, "consumer \"{}\": {total} events in all were not delivered and are kept nowhere, as it has no dead_letter file; {}", self.name, self.keep_them());
                    }
                    return Turn::Ended;
                }
            }
        }
        if let Some(at) = self.retry_at {
            if Instant::now() < at && !lanes.abort.is_aborted() {
                return Turn::Idle(Some(at));
            }
            self.retry_at = None;
        }
        if self.unwritten.is_some() {
            self.write_dead_letters(lanes);
        } else {
            self.deliver(lanes, lane);
        }
        if self.from >= self.batch.len() {
            lanes.log.commit(self.id, &mut self.batch);
        }
        Turn::Worked { slow: self.slow_calls >= SLOW_CALLS }
    }

    fn deliver(&mut self, lanes: &Lanes, lane: &Lane) {
        let started = Instant::now();
        let answer = lane.calling(lanes, self, started, || self.instance.deliver(&self.batch, self.from));
        let took = started.elapsed();
        self.slow_calls = if took > SLOW_CALL { self.slow_calls.saturating_add(1) } else { 0 };
        let stats = self.stats();
        stats.on_events.observe(took);
        Stats::add(&stats.batches, 1);
        if answer.status != evh::EVH_OK {
            Stats::add(&stats.errors, 1);
        }
        let offered = self.batch.len() - self.from;
        if answer.status != evh::EVH_OK && answer.handled > offered {
            tracing::error!(
                consumer = %self.name,
                hook = "on_events",
                status = evh::status_name(answer.status),
                handled = answer.handled,
                n = offered,
                "plugin error: on_events reported more events handled than it was given; treating the whole batch as not handled"
            );
            let note = format!(" (on_events also reported handled = {} of {offered} events)", answer.handled);
            self.failed(lanes, answer.status, &note);
            return;
        }
        Stats::add(&stats.events, answer.handled as u64);
        self.from += answer.handled;
        if answer.status != evh::EVH_OK && self.from < self.batch.len() {
            self.failed(lanes, answer.status, "");
        }
    }

    /// Handles RETRY and FAIL: schedules a retry, or dead-letters the rest of the batch.
    fn failed(&mut self, lanes: &Lanes, status: evh::evh_status, note: &str) {
        let message = self.instance.host().take_error().unwrap_or_default();
        let reason =
            format!("{}{}{message}{note}", evh::status_name(status), if message.is_empty() { "" } else { ": " });
        self.stats().note_error(&reason);
        let aborted = lanes.abort.is_aborted();
        if status == evh::EVH_RETRY && self.attempt < self.config.retry_attempts && !aborted {
            self.attempt += 1;
            Stats::add(&self.stats().retries, 1);
            let delay = self.backoff.delay(self.attempt);
            tracing::warn!(consumer = %self.name, attempt = self.attempt, ?delay, "{reason}; retrying {} events", self.batch.len() - self.from);
            self.retry_at = Some(Instant::now() + delay);
            return;
        }
        let reason = match status {
            evh::EVH_RETRY if aborted => format!("{reason} (shutdown deadline passed while retrying)"),
            evh::EVH_RETRY => format!("{reason} (gave up after {} retries)", self.attempt),
            evh::EVH_FAIL => reason,
            other => format!("unexpected status {other} from on_events, treated as EVH_FAIL: {reason}"),
        };
        let Some(dead_letter) = &self.dead_letter else {
            let count = (self.batch.len() - self.from) as u64;
            match self.unkept.add(count, Instant::now()) {
                Due::First => {
                    let first = self.batch.iter_from(self.from).next().map_or(0, |event| event.seq());
                    tracing::error!(consumer = %self.name, events = count, first_seq = first, "consumer \"{}\": {count} events not delivered ({reason}), and kept nowhere, as it has no dead_letter file; {}; later ones are counted, said again at most once a minute, and the total is logged when it stops", self.name, self.keep_them());
                }
                Due::Since(since) => {
                    let total = self.unkept.total;
                    tracing::error!(consumer = %self.name, events = since, total, "consumer \"{}\": {since} more events not delivered since the last report (the latest: {reason}), {total} in all, kept nowhere; {}", self.name, self.keep_them());
                }
                Due::Quiet => {}
            }
            Stats::add(&self.stats().failed, count);
            self.from = self.batch.len();
            return;
        };
        let letters = dead_letter.letters(self.batch.iter_from(self.from), &reason);
        self.unwritten = Some(Unwritten { letters, reason, tries: 0 });
        self.write_dead_letters(lanes);
    }

    /// The fix for events kept nowhere.
    fn keep_them(&self) -> String {
        format!("set dead_letter = \"{}-dlq.jsonl\" in its [[consumer]] entry to keep failed events as CloudEvents JSON lines", self.name)
    }

    /// Writes the batch's dead letters; on failure tries again later, and after the last
    /// try counts and names each event that did not make it.
    fn write_dead_letters(&mut self, lanes: &Lanes) {
        let (Some(dead_letter), Some(unwritten)) = (&mut self.dead_letter, &mut self.unwritten) else { return };
        let result = dead_letter.write(&mut unwritten.letters);
        unwritten.tries += 1;
        let path = dead_letter.path().display();
        let count = unwritten.letters.len();
        match result {
            Ok(()) => {
                tracing::error!(consumer = %self.name, events = count, "batch failed: {}; sent to the dead-letter file", unwritten.reason);
                Stats::add(&self.instance.host().stats.dead_lettered, count as u64);
            }
            Err(e) if unwritten.tries < DEAD_LETTER_TRIES && !lanes.abort.is_aborted() => {
                let delay = DEAD_LETTER_BACKOFF * (1 << (unwritten.tries - 1));
                tracing::warn!(consumer = %self.name, events = count, "cannot write the dead-letter file {path}: {e}; trying again in {delay:?}");
                self.retry_at = Some(Instant::now() + delay);
                return;
            }
            Err(e) => {
                let written = unwritten.letters.written();
                Stats::add(&self.instance.host().stats.dead_lettered, written as u64);
                Stats::add(&self.instance.host().stats.lost, (count - written) as u64);
                for event in self.batch.iter_from(self.from + written) {
                    tracing::error!(consumer = %self.name, id = event.id(), seq = event.seq(), "event lost: it failed ({}) and could not be written to the dead-letter file {path} after {} tries: {e}", unwritten.reason, unwritten.tries);
                }
            }
        }
        self.unwritten = None;
        self.from = self.batch.len();
    }
}
