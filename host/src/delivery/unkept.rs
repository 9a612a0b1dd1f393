//! When a consumer that fails events without a dead-letter file says so: at the first one,
//! then at most once a [`EVERY`] with what came meanwhile, and (the caller) in all at the
//! end; not one line per event (a failed isolated instance fails every event, and a line
//! each drowned the log), and not only once (days of losses, or a new reason, showed one
//! line).

use std::time::{Duration, Instant};

/// How often a consumer that keeps failing events says so again.
pub const EVERY: Duration = Duration::from_secs(60);

/// The line a failure of events kept nowhere is due.
#[derive(Debug, PartialEq, Eq)]
pub enum Due {
    /// The first: say what happened and how to keep them.
    First,
    /// A reminder: this many more since the last line.
    Since(u64),
    /// Nothing: a line was logged less than [`EVERY`] ago.
    Quiet,
}

/// Failed events kept nowhere, and when they were last reported.
#[derive(Default)]
pub struct Unkept {
    /// All of them so far.
    pub total: u64,
    /// When the last line was logged, and the total then.
    reported: Option<(Instant, u64)>,
}

impl Unkept {
    /// `count` more failed at `now`: counts them and says which line is due.
    pub fn add(&mut self, count: u64, now: Instant) -> Due {
        self.total += count;
        let due = match self.reported {
            None => Due::First,
            Some((at, then)) if now.duration_since(at) >= EVERY => Due::Since(self.total - then),
            Some(_) => return Due::Quiet,
        };
        self.reported = Some((now, self.total));
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failure_is_said_then_at_most_once_a_minute_with_the_count_since() {
        let start = Instant::now();
        let mut unkept = Unkept::default();
        assert_eq!(unkept.add(10, start), Due::First);
        assert_eq!(unkept.add(5, start + Duration::from_secs(1)), Due::Quiet);
        assert_eq!(unkept.add(5, start + Duration::from_secs(59)), Due::Quiet);
        assert_eq!(unkept.add(3, start + EVERY), Due::Since(13));
        assert_eq!(unkept.add(1, start + EVERY + Duration::from_secs(30)), Due::Quiet);
        assert_eq!(unkept.add(2, start + EVERY * 2), Due::Since(3));
        assert_eq!(unkept.total, 26);
    }
}
