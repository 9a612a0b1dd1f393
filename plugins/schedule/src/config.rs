//! The `config` table: `jobs = [{ name, every | cron, timezone, data }]`, checked into `Job`s.

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use chrono::Utc;
use chrono_tz::Tz;
use evhost_sdk::{units, Error};
use serde::Deserialize;

use crate::job::{Job, Timing};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The jobs; at least one.
    #[serde(default)]
    jobs: Vec<JobConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobConfig {
    /// Unique among the jobs; letters, digits, `.`, `_` and `-` (it is part of the source
    /// and the id).
    name: String,
    /// An interval: "500ms", "5s", "1h30m".
    every: Option<units::Duration>,
    /// A cron expression with seconds first: "0 */5 * * * *".
    cron: Option<String>,
    /// The IANA time zone a cron expression is read in; UTC by default.
    timezone: Option<String>,
    /// Any JSON value, sent as each tick's data.
    data: Option<serde_json::Value>,
}

const EXAMPLE: &str = r#"jobs = [{ name = "cleanup", every = "5m" }, { name = "report", cron = "0 0 9 * * Mon-Fri", timezone = "Europe/Berlin" }]"#;

impl Config {
    pub fn check(self) -> Result<Vec<Job>, Error> {
        if self.jobs.is_empty() {
            return Err(Error::config(format!("`jobs` is empty: add at least one, e.g. {EXAMPLE}")));
        }
        let mut names = HashSet::new();
        let mut jobs = Vec::with_capacity(self.jobs.len());
        for job in self.jobs {
            let job = job.check()?;
            if !names.insert(job.name.clone()) {
                return Err(Error::config(format!("two jobs are named \"{}\"; give each job its own name", job.name)));
            }
            jobs.push(job);
        }
        Ok(jobs)
    }
}

impl JobConfig {
    fn check(self) -> Result<Job, Error> {
        let name = self.name;
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if name.is_empty() || !name.chars().all(valid) {
            return Err(Error::config(format!(
                "job name \"{name}\" is not allowed: use letters, digits, '.', '_' and '-' (the name is part of each event's source and id)"
            )));
        }
        let timing = match (self.every, self.cron) {
            (Some(every), None) => {
                if self.timezone.is_some() {
                    return Err(Error::config(format!(
                        "job \"{name}\": `timezone` applies to `cron` only; an `every` interval does not depend on it"
                    )));
                }
                Timing::Every {
                    nanos: interval(&every).map_err(|why| Error::config(format!("job \"{name}\": {why}")))?,
                }
            }
            (None, Some(expression)) => {
                let timezone = match self.timezone.as_deref() {
                    None => Tz::UTC,
                    Some(zone) => Tz::from_str(zone).map_err(|_| {
                        Error::config(format!("job \"{name}\": `timezone` = \"{zone}\" is not a known time zone; use an IANA name such as \"UTC\", \"Europe/Berlin\" or \"America/New_York\""))
                    })?,
                };
                let schedule = cron::Schedule::from_str(&expression).map_err(|e| {
                    let fields = expression.split_whitespace().count();
                    let why = if matches!(fields, 6 | 7) {
                        // The parser's message, on one line.
                        e.to_string().split_whitespace().collect::<Vec<_>>().join(" ")
                    } else {
                        format!("it has {fields} fields, not 6 (or 7 with a year)")
                    };
                    Error::config(format!(
                        "job \"{name}\": `cron` = \"{expression}\" is not a valid cron expression ({why}); write 6 fields with seconds first (sec min hour day-of-month month day-of-week), e.g. \"0 */5 * * * *\" for every 5 minutes"
                    ))
                })?;
                let timing = Timing::Cron { schedule: Box::new(schedule), timezone };
                let probe = Job { name: String::new(), source: String::new(), data: None, timing };
                if probe.next_after(Utc::now()).is_none() {
                    return Err(Error::config(format!("job \"{name}\": `cron` = \"{expression}\" never fires again")));
                }
                probe.timing
            }
            (Some(_), Some(_)) => {
                return Err(Error::config(format!("job \"{name}\" has both `every` and `cron`; keep one of them")));
            }
            (None, None) => {
                return Err(Error::config(format!(
                    "job \"{name}\" needs `every` (e.g. every = \"30s\") or `cron` (e.g. cron = \"0 */5 * * * *\")"
                )));
            }
        };
        let data = self.data.map(|value| serde_json::to_vec(&value).expect("a JSON value serializes"));
        Ok(Job { source: format!("/schedule/{name}"), name, data, timing })
    }
}

/// The `every` interval in nanoseconds, at least 1 ms; the error names the key.
fn interval(every: &units::Duration) -> Result<i64, String> {
    let interval = every.get().map_err(|e| e.for_key("every"))?;
    if interval < Duration::from_millis(1) {
        return Err(format!("`every` = {every} is shorter than 1ms; the shortest interval is \"1ms\""));
    }
    i64::try_from(interval.as_nanos()).map_err(|_| format!("`every` = {every} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> Result<Vec<Job>, String> {
        serde_json::from_str::<Config>(json).unwrap().check().map_err(|e| e.message().to_owned())
    }

    #[test]
    fn durations() {
        let interval = |text: &str| interval(&serde_json::from_value(text.into()).unwrap());
        assert_eq!(interval("500ms"), Ok(500_000_000));
        assert_eq!(interval("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(interval("2d"), Ok(172_800_000_000_000));
        assert!(interval("5").unwrap_err().contains("no unit"));
        assert!(interval("5 parsecs").unwrap_err().contains("unknown unit"));
        assert!(interval("0s").unwrap_err().contains("shorter than 1ms"));
        assert!(interval("ms").unwrap_err().contains("not a duration"));
        assert!(interval("999999d").unwrap_err().contains("too long"));
    }

    #[test]
    fn good_jobs() {
        let jobs = check(r#"{"jobs": [{"name": "a", "every": "1s", "data": {"k": 1}}, {"name": "b", "cron": "*/5 * * * * *", "timezone": "Europe/Berlin"}]}"#).unwrap();
        assert_eq!(jobs[0].source, "/schedule/a");
        assert_eq!(jobs[0].data.as_deref(), Some(&br#"{"k":1}"#[..]));
        assert!(jobs[1].data.is_none());
    }

    #[test]
    fn mistakes_are_named() {
        assert!(check("{}").unwrap_err().contains("`jobs` is empty"));
        assert!(check(r#"{"jobs": [{"name": "a"}]}"#).unwrap_err().contains("needs `every`"));
        assert!(check(r#"{"jobs": [{"name": "a", "every": "1s", "cron": "* * * * * *"}]}"#)
            .unwrap_err()
            .contains("both"));
        assert!(check(r#"{"jobs": [{"name": "a", "every": "1s"}, {"name": "a", "every": "2s"}]}"#)
            .unwrap_err()
            .contains("two jobs"));
        assert!(check(r#"{"jobs": [{"name": "a", "cron": "*/5 * * * *"}]}"#).unwrap_err().contains("it has 5 fields"));
        assert!(check(r#"{"jobs": [{"name": "a", "cron": "0 0 25 * * *"}]}"#)
            .unwrap_err()
            .contains("6 fields with seconds first"));
        assert!(check(r#"{"jobs": [{"name": "a", "cron": "* * * * * *", "timezone": "Mars/Olympus"}]}"#)
            .unwrap_err()
            .contains("Mars/Olympus"));
        assert!(check(r#"{"jobs": [{"name": "a", "every": "1s", "timezone": "UTC"}]}"#)
            .unwrap_err()
            .contains("`cron` only"));
        assert!(check(r#"{"jobs": [{"name": "a b", "every": "1s"}]}"#).unwrap_err().contains("not allowed"));
    }
}
