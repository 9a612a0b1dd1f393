//! Delivery: one worker per consumer reads batches from its cursor and hands them to the
//! plugin. OK advances the cursor; RETRY backs off and delivers the unhandled rest again, up
//! to the retry limit; FAIL, an unknown status, or exhausted retries send the rest to the
//! dead-letter target, and delivery goes on.

mod dead_letter;
mod retry;

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use evhost_abi as evh;

use crate::bus::{Batch, Bus, ConsumerId, Read};
use crate::config::DeliveryConfig;
use crate::loader::Instance;
pub use dead_letter::to_json;
use dead_letter::DeadLetter;
use retry::Backoff;

/// What one consumer's worker did, for the shutdown summary.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub delivered: u64,
    pub dead_lettered: u64,
    pub dropped: u64,
    pub retries: u64,
}

/// Lets shutdown cut retry waits short once its deadline has passed.
#[derive(Default)]
pub struct Abort {
    aborted: Mutex<bool>,
    wake: Condvar,
}

impl Abort {
    pub fn abort(&self) {
        *self.aborted.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.wake.notify_all();
    }

    /// Sleeps for `duration` unless aborted; true when aborted.
    fn sleep(&self, duration: Duration) -> bool {
        let guard = self.aborted.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = self.wake.wait_timeout_while(guard, duration, |aborted| !*aborted).unwrap_or_else(|e| e.into_inner());
        *guard
    }
}

pub struct Worker {
    pub instance: Arc<Instance>,
    pub bus: Arc<Bus>,
    pub id: ConsumerId,
    pub config: DeliveryConfig,
    pub abort: Arc<Abort>,
}

impl Worker {
    /// Delivers until the log is closed and drained; call it on the consumer's own thread.
    pub fn run(self) -> Report {
        let name = self.instance.host.name.clone();
        let backoff = Backoff { first: self.config.backoff_first, max: self.config.backoff_max };
        let mut dead_letter = DeadLetter::new(&name, self.config.dead_letter.clone());
        let mut report = Report::default();
        let mut batch = Batch::default();
        while let Read::Events { dropped } = self.bus.read(self.id, self.config.batch, &mut batch) {
            if dropped > 0 {
                report.dropped += dropped;
                tracing::warn!(consumer = %name, dropped, "consumer fell a full log behind; policy drop_oldest skipped the oldest events");
            }
            let mut from = 0;
            let mut attempt = 0;
            while from < batch.len() {
                let answer = self.instance.deliver(&batch.events()[from..]);
                report.delivered += answer.handled as u64;
                from += answer.handled;
                if answer.status == evh::EVH_OK {
                    break;
                }
                let message = self.instance.host.take_error().unwrap_or_default();
                let reason = format!("{}{}{}", evh::status_name(answer.status), if message.is_empty() { "" } else { ": " }, message);
                if answer.status == evh::EVH_RETRY && attempt < self.config.retry_attempts {
                    attempt += 1;
                    report.retries += 1;
                    let delay = backoff.delay(attempt);
                    tracing::warn!(consumer = %name, attempt, ?delay, "{reason}; retrying {} events", batch.len() - from);
                    if !self.abort.sleep(delay) {
                        continue;
                    }
                }
                let reason = match answer.status {
                    evh::EVH_RETRY if attempt >= self.config.retry_attempts => format!("{reason} (gave up after {attempt} retries)"),
                    evh::EVH_RETRY => format!("{reason} (shutdown deadline passed while retrying)"),
                    evh::EVH_FAIL => reason,
                    other => format!("unexpected status {other} from on_events, treated as EVH_FAIL: {reason}"),
                };
                match dead_letter.write(batch.iter_from(from), &reason) {
                    Ok(count) => {
                        report.dead_lettered += count as u64;
                        tracing::error!(consumer = %name, events = count, "batch failed: {reason}; sent to the dead-letter target");
                    }
                    Err(e) => tracing::error!(consumer = %name, "batch failed ({reason}) and writing the dead-letter file failed: {e}"),
                }
                break;
            }
            self.bus.commit(self.id, batch.first_seq() + batch.len() as u64);
        }
        report
    }
}
