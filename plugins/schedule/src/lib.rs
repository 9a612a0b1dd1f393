//! The `schedule` producer: jobs that tick on an interval (`every = "500ms"`) or a cron
//! expression with seconds (`cron = "0 */5 * * * *"`), one event per tick.
//!
//! Each event says when the tick was *scheduled*, not when it ran: type
//! `dev.evhost.schedule.tick`, source `/schedule/<name>`, subject `<name>`, time the
//! scheduled instant in UTC, id `<name>/<time>`, data the job's `data` as JSON. Interval
//! ticks fall on whole multiples of the interval since the Unix epoch, so two hosts running
//! the same job produce the same ids and a consumer can drop duplicates.
//!
//! A job that fell behind (the host blocked on a full log, the machine slept) fires once,
//! for the latest tick it missed, and then keeps to its schedule from now on: never a burst.
#![forbid(unsafe_code)]

mod config;
mod job;
mod producer;

pub use producer::Schedule;

evhost_sdk::export_plugins!(producer Schedule);
