//! The producer: one thread that sleeps until the earliest job is due, emits that moment's
//! ticks as one batch, and wakes at once when the host asks it to stop.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use evhost_sdk::{Context, EmitError, Emitter, Error, OutEvent, Producer};

use crate::config::Config;
use crate::job::Job;

const TYPE: &str = "dev.evhost.schedule.tick";

/// The longest single wait. The wait runs on the monotonic clock, which stands still while
/// the machine sleeps and ignores steps of the wall clock; waking at least this often
/// notices both within a second, at the cost of one cheap wakeup per second.
const LONGEST_WAIT: Duration = Duration::from_secs(1);

pub struct Schedule {
    ctx: Context,
    jobs: Vec<Job>,
}

impl Producer for Schedule {
    const NAME: &'static str = "schedule";
    const DESCRIPTION: &'static str = "emits one event per tick of interval (`every`) and cron jobs";
    type Config = Config;

    fn create(ctx: Context, config: Config) -> Result<Self, Error> {
        Ok(Schedule { ctx, jobs: config.check()? })
    }

    fn run(&self, emitter: &mut Emitter) -> Result<(), Error> {
        let start = Utc::now();
        // Each job's next tick; `None` once a cron expression has no more.
        let mut next: Vec<Option<DateTime<Utc>>> = self.jobs.iter().map(|job| job.next_after(start)).collect();
        for (job, next) in self.jobs.iter().zip(&next) {
            if let Some(next) = next {
                self.ctx.info(format!("job {} scheduled, first tick at {}", job.name, rfc3339(*next)));
            }
        }
        loop {
            if emitter.stop_requested() {
                return Ok(());
            }
            let Some(due) = next.iter().flatten().min().copied() else {
                self.ctx.info("no job has ticks left");
                return Ok(());
            };
            let now = Utc::now();
            if due > now {
                let wait = (due - now).to_std().unwrap_or_default().min(LONGEST_WAIT);
                if emitter.wait_stop(wait) {
                    return Ok(());
                }
                continue;
            }
            let ticks = self.due_ticks(&mut next, now);
            let events: Vec<OutEvent<'_>> = ticks.iter().map(|(job, id, time)| self.event(job, id, time)).collect();
            match emitter.emit(&events) {
                Ok(()) => {}
                Err(EmitError::Stopped) => return Ok(()),
                Err(err) => return Err(err.into()),
            }
        }
    }
}

impl Schedule {
    /// The ticks due at `now`, one per due job: its latest scheduled instant at or before
    /// `now`, however many it missed before that. Moves each due job's next tick past `now`.
    fn due_ticks(&self, next: &mut [Option<DateTime<Utc>>], now: DateTime<Utc>) -> Vec<(&Job, String, String)> {
        let mut ticks = Vec::new();
        for (job, next) in self.jobs.iter().zip(next.iter_mut()) {
            let Some(scheduled) = *next else { continue };
            if scheduled > now {
                continue;
            }
            let (latest, after) = job.catch_up(scheduled, now);
            if latest > scheduled {
                self.ctx.warn(format!(
                    "job {} is late (the host was busy or the machine slept): firing once for {}, skipping the ticks from {} on",
                    job.name,
                    rfc3339(latest),
                    rfc3339(scheduled)
                ));
            }
            *next = after;
            let time = rfc3339(latest);
            ticks.push((job, format!("{}/{time}", job.name), time));
        }
        ticks
    }

    fn event<'a>(&self, job: &'a Job, id: &'a str, time: &'a str) -> OutEvent<'a> {
        let event = OutEvent::new(id, job.source.as_str(), TYPE).subject(job.name.as_str()).time(time);
        match &job.data {
            Some(data) => event.datacontenttype("application/json").data(&data[..]),
            None => event,
        }
    }
}

/// RFC 3339 in UTC, with as many fraction digits as needed (0, 3, 6 or 9).
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}
