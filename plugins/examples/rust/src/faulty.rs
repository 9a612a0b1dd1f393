//! `faulty`: a TEST FIXTURE for the host's failure handling, not an example to copy.
//!
//! Config `{"mode": "panic" | "fail_create" | "retry_then_ok" | "fail", "times": N}`:
//! `panic` panics in every `on_events`; `fail_create` fails `create`; `retry_then_ok`
//! answers Retry (nothing handled) for the first `times` batches, then Ok; `fail` answers
//! Fail (nothing handled) for every batch.

use evhost_sdk::{Batch, Consumer, Context, Delivery, Error};
use serde::Deserialize;

#[derive(Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Panic,
    FailCreate,
    RetryThenOk,
    Fail,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    mode: Mode,
    /// For `retry_then_ok`: how many batches to retry first.
    #[serde(default)]
    times: u64,
}

pub struct Faulty {
    mode: Mode,
    retries_left: u64,
}

impl Consumer for Faulty {
    const NAME: &'static str = "faulty";
    const DESCRIPTION: &'static str = "test fixture: panics, fails or retries on purpose";
    type Config = Config;

    fn create(_ctx: Context, config: Config) -> Result<Self, Error> {
        if let Mode::FailCreate = config.mode {
            // The SDK prefixes "faulty: ".
            return Err(Error::config("asked to fail in create (mode = \"fail_create\")"));
        }
        Ok(Faulty { mode: config.mode, retries_left: config.times })
    }

    fn on_events(&mut self, _batch: &Batch<'_>) -> Delivery {
        match self.mode {
            Mode::Panic => panic!("asked to panic in on_events (mode = \"panic\")"),
            Mode::RetryThenOk if self.retries_left > 0 => {
                self.retries_left -= 1;
                Delivery::retry(0, "asked to retry (mode = \"retry_then_ok\")")
            }
            Mode::Fail => Delivery::fail(0, "asked to fail (mode = \"fail\")"),
            Mode::RetryThenOk | Mode::FailCreate => Delivery::Ok,
        }
    }
}
