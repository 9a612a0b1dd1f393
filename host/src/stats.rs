//! What each instance did, counted where the work happens and read by whoever reports it:
//! the shutdown summary and report, and the admin endpoint's metrics. Counted once per
//! batch (a few relaxed atomic adds), never per event, so counting costs nothing the
//! benchmark can see.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// An instance's counters. A producer counts what it emitted; a consumer what it was
/// delivered and what became of what it could not take.
#[derive(Debug, Default)]
pub struct Stats {
    /// Producer: events emitted into the log. Consumer: events its `on_events` handled.
    pub events: AtomicU64,
    /// Producer: payload bytes emitted (attributes and data).
    pub bytes: AtomicU64,
    /// Producer: emits accepted. Consumer: `on_events` calls.
    pub batches: AtomicU64,
    /// Producer: emits refused (invalid, too large). Consumer: `on_events` calls that
    /// answered other than `EVH_OK`.
    pub errors: AtomicU64,
    pub retries: AtomicU64,
    /// Failed events written to the consumer's dead-letter file.
    pub dead_lettered: AtomicU64,
    /// Failed events of a consumer without a dead-letter file: not delivered, kept nowhere.
    pub failed: AtomicU64,
    /// Failed events the dead-letter file could not take either.
    pub lost: AtomicU64,
    /// Skipped by `drop_oldest` a full log behind.
    pub dropped: AtomicU64,
    /// How long `on_events` calls took.
    pub on_events: Histogram,
    /// The last error it met (a refused emit, a failed batch), for the admin status. Set
    /// on the error path only.
    last_error: Mutex<Option<String>>,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn note_error(&self, message: &str) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(message.to_string());
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Restarts of isolated workers, by instance and the reason of the death before each
/// (`signal`, `exit`, `hung`, `out_of_memory`, `protocol`, `create_failed`). Rare, so a lock is fine.
static WORKER_RESTARTS: Mutex<std::collections::BTreeMap<(String, &'static str), u64>> =
    Mutex::new(std::collections::BTreeMap::new());

/// An isolated worker of `instance` died for `reason`, and is restarted or given up on.
pub fn worker_restarted(instance: &str, reason: &'static str) {
    *WORKER_RESTARTS.lock().unwrap_or_else(|e| e.into_inner()).entry((instance.to_string(), reason)).or_default() += 1;
}

/// Every (instance, reason, count) of [`worker_restarted`], in order.
pub fn worker_restarts() -> Vec<(String, &'static str, u64)> {
    let restarts = WORKER_RESTARTS.lock().unwrap_or_else(|e| e.into_inner());
    restarts.iter().map(|((instance, reason), n)| (instance.clone(), *reason, *n)).collect()
}

/// The upper bounds of the duration histogram's buckets, in seconds: from 10 µs (a fast
/// in-process consumer) to 10 s (one about to be called stuck), a factor of ~3 apart.
pub const BUCKETS: [f64; 13] = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0];

/// A Prometheus-style histogram of durations, without locks.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last counts those over every bound.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_ns: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = BUCKETS.iter().position(|&bound| seconds <= bound).unwrap_or(BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Cumulative counts for each bound of [`BUCKETS`] and then `+Inf` (the total), and the
    /// sum in seconds.
    pub fn snapshot(&self) -> ([u64; BUCKETS.len() + 1], f64) {
        let mut cumulative = [0; BUCKETS.len() + 1];
        let mut total = 0;
        for (slot, bucket) in cumulative.iter_mut().zip(&self.buckets) {
            total += bucket.load(Ordering::Relaxed);
            *slot = total;
        }
        (cumulative, self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_restarts_are_counted_by_instance_and_reason() {
        worker_restarted("stats-test", "signal");
        worker_restarted("stats-test", "signal");
        worker_restarted("stats-test", "hung");
        let mine: Vec<_> = worker_restarts().into_iter().filter(|(instance, _, _)| instance == "stats-test").collect();
        assert_eq!(mine, [("stats-test".to_string(), "hung", 1), ("stats-test".to_string(), "signal", 2)]);
    }

    #[test]
    fn the_histogram_counts_cumulatively() {
        let histogram = Histogram::default();
        for micros in [5, 50, 50, 20_000_000] {
            histogram.observe(Duration::from_micros(micros));
        }
        let (cumulative, sum) = histogram.snapshot();
        assert_eq!(cumulative[0], 1, "5 µs is within 10 µs");
        assert_eq!(cumulative[2], 3, "50 µs twice is within 100 µs");
        assert_eq!(cumulative[BUCKETS.len() - 1], 3, "20 s is over the last bound");
        assert_eq!(cumulative[BUCKETS.len()], 4);
        assert!((sum - 20.000105).abs() < 1e-9);
    }
}
