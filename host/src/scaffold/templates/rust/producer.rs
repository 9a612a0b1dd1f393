//! {{name}}: an evhost producer. It emits `count` events (default 10), one every
//! `interval` (default "1s"), then finishes; the host stops when every producer has. The
//! SDK reads the config with serde, refuses unknown keys (`deny_unknown_fields`) and
//! catches panics; no `unsafe` here.
#![forbid(unsafe_code)]

use std::time::Duration;

use evhost_sdk::{units, Context, EmitError, Emitter, Error, OutEvent, Producer};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How many events to emit.
    #[serde(default)]
    count: Option<u64>,
    /// The wait between two events, e.g. "250ms".
    #[serde(default)]
    interval: Option<units::Duration>,
}

pub struct Plugin {
    count: u64,
    interval: Duration,
}

impl Producer for Plugin {
    const NAME: &'static str = "{{name}}";
    const DESCRIPTION: &'static str = "emits `count` events, one every `interval`";
    type Config = Config;

    fn create(_ctx: Context, config: Config) -> Result<Self, Error> {
        let interval = match &config.interval {
            Some(interval) => interval.get().map_err(|e| Error::config(e.for_key("interval")))?,
            None => Duration::from_secs(1),
        };
        Ok(Plugin { count: config.count.unwrap_or(10), interval })
    }

    fn run(&self, emitter: &mut Emitter) -> Result<(), Error> {
        for n in 0..self.count {
            let (id, data) = (n.to_string(), format!("{{\"n\":{n}}}"));
            let event = OutEvent::new(id, "/{{name}}", "com.example.{{lib}}.tick")
                .datacontenttype("application/json")
                .data(data.into_bytes());
            match emitter.emit(&[event]) {
                Ok(()) => {}
                Err(EmitError::Stopped) => break,
                Err(e) => return Err(e.into()),
            }
            // Sleeps, but wakes at once when the host asks the producer to stop.
            if emitter.wait_stop(self.interval) {
                break;
            }
        }
        Ok(())
    }
}

evhost_sdk::export_plugins!(producer Plugin);
