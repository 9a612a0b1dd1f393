//! Backoff between retries: exponential with "equal jitter" (half fixed, half random), so
//! that consumers retrying together spread out while each waits at least half the step.

use std::time::Duration;

pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The wait before retry number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let step = self.first.saturating_mul(1u32 << attempt.saturating_sub(1).min(20)).min(self.max);
        let half = step / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_bounds() {
        let backoff = Backoff { first: Duration::from_millis(100), max: Duration::from_secs(1) };
        for attempt in 1..30 {
            let step = Duration::from_millis(100 * (1u64 << (attempt - 1).min(20))).min(Duration::from_secs(1));
            let delay = backoff.delay(attempt);
            assert!(delay >= step / 2 && delay <= step, "attempt {attempt}: {delay:?} outside {step:?}/2..={step:?}");
        }
    }
}
