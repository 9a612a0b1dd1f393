//! One job's timing: when it ticks next, and which tick is the latest one due.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

/// How a job ticks.
#[derive(Debug)]
pub enum Timing {
    /// Every `nanos` nanoseconds, on whole multiples of it since the Unix epoch.
    Every { nanos: i64 },
    /// The instants a cron expression (seconds first) names, read in `timezone`.
    Cron { schedule: Box<cron::Schedule>, timezone: Tz },
}

/// A checked job: its name and what each of its events carries.
#[derive(Debug)]
pub struct Job {
    pub name: String,
    /// `/schedule/<name>`.
    pub source: String,
    /// The job's `data` as JSON text, when it has some.
    pub data: Option<Vec<u8>>,
    pub timing: Timing,
}

impl Job {
    /// The first tick strictly after `t`; `None` when the schedule has no more (a cron
    /// expression whose years are over).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.timing {
            Timing::Every { nanos } => {
                let now = t.timestamp_nanos_opt()?;
                let next = now.div_euclid(*nanos).checked_add(1)?.checked_mul(*nanos)?;
                Some(DateTime::from_timestamp_nanos(next))
            }
            Timing::Cron { schedule, timezone } => {
                schedule.after(&t.with_timezone(timezone)).next().map(|next| next.with_timezone(&Utc))
            }
        }
    }

    /// The tick to fire at `now` when `scheduled` is due (at or before `now`): the latest
    /// tick up to `now`, so that a job that fell behind fires once, not once per missed
    /// tick; and the tick after it, which is after `now`.
    pub fn catch_up(&self, scheduled: DateTime<Utc>, now: DateTime<Utc>) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
        let fire = self.latest_until(now).unwrap_or(scheduled).max(scheduled);
        (fire, self.next_after(fire.max(now)))
    }

    /// The latest tick at or before `t`; `None` when there is none.
    pub fn latest_until(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.timing {
            Timing::Every { nanos } => {
                let now = t.timestamp_nanos_opt()?;
                Some(DateTime::from_timestamp_nanos(now.div_euclid(*nanos) * nanos))
            }
            Timing::Cron { schedule, timezone } => {
                // The iterator walks back from strictly before its start.
                let bound = (t + TimeDelta::nanoseconds(1)).with_timezone(timezone);
                let latest = schedule.after(&bound).next_back()?.with_timezone(&Utc);
                (latest <= t).then_some(latest)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn job(timing: Timing) -> Job {
        Job { name: "j".into(), source: "/schedule/j".into(), data: None, timing }
    }

    fn cron(expression: &str, timezone: Tz) -> Job {
        job(Timing::Cron { schedule: Box::new(cron::Schedule::from_str(expression).unwrap()), timezone })
    }

    #[test]
    fn intervals_fall_on_multiples_since_the_epoch() {
        let every = job(Timing::Every { nanos: 100_000_000 });
        assert_eq!(every.next_after(at("2024-05-01T12:00:00.050Z")), Some(at("2024-05-01T12:00:00.100Z")));
        assert_eq!(every.next_after(at("2024-05-01T12:00:00.100Z")), Some(at("2024-05-01T12:00:00.200Z")));
        assert_eq!(every.latest_until(at("2024-05-01T12:00:00.100Z")), Some(at("2024-05-01T12:00:00.100Z")));
        assert_eq!(every.latest_until(at("2024-05-01T12:00:07.349Z")), Some(at("2024-05-01T12:00:07.300Z")));
    }

    #[test]
    fn a_late_job_fires_once_for_the_latest_missed_tick() {
        let every = job(Timing::Every { nanos: 100_000_000 });
        let (fire, next) = every.catch_up(at("2024-05-01T12:00:00.100Z"), at("2024-05-01T12:00:05.432Z"));
        assert_eq!((fire, next), (at("2024-05-01T12:00:05.400Z"), Some(at("2024-05-01T12:00:05.500Z"))));
        let on_time = every.catch_up(at("2024-05-01T12:00:00.100Z"), at("2024-05-01T12:00:00.101Z"));
        assert_eq!(on_time, (at("2024-05-01T12:00:00.100Z"), Some(at("2024-05-01T12:00:00.200Z"))));
        let nightly = cron("0 0 3 * * *", Tz::UTC);
        let (fire, next) = nightly.catch_up(at("2024-05-01T03:00:00Z"), at("2024-05-04T10:00:00Z"));
        assert_eq!((fire, next), (at("2024-05-04T03:00:00Z"), Some(at("2024-05-05T03:00:00Z"))));
    }

    #[test]
    fn cron_next_and_latest() {
        let every_5s = cron("*/5 * * * * *", Tz::UTC);
        assert_eq!(every_5s.next_after(at("2024-05-01T12:00:00Z")), Some(at("2024-05-01T12:00:05Z")));
        assert_eq!(every_5s.next_after(at("2024-05-01T12:00:03.5Z")), Some(at("2024-05-01T12:00:05Z")));
        assert_eq!(every_5s.latest_until(at("2024-05-01T12:00:05Z")), Some(at("2024-05-01T12:00:05Z")));
        assert_eq!(every_5s.latest_until(at("2024-05-01T12:00:05.999Z")), Some(at("2024-05-01T12:00:05Z")));
        assert_eq!(every_5s.latest_until(at("2024-05-01T12:01:04.2Z")), Some(at("2024-05-01T12:01:00Z")));
    }

    #[test]
    fn cron_reads_its_timezone() {
        // 09:00 in Berlin is 07:00 UTC in summer (CEST, +02:00).
        let nine = cron("0 0 9 * * *", Tz::Europe__Berlin);
        assert_eq!(nine.next_after(at("2024-07-01T00:00:00Z")), Some(at("2024-07-01T07:00:00Z")));
        assert_eq!(nine.latest_until(at("2024-07-02T06:59:59Z")), Some(at("2024-07-01T07:00:00Z")));
    }

    #[test]
    fn cron_in_the_past_has_no_next() {
        let over = cron("0 0 0 1 1 * 2001", Tz::UTC);
        assert_eq!(over.next_after(at("2024-01-01T00:00:00Z")), None);
    }
}
