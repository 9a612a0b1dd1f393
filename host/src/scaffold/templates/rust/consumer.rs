//! {{name}}: an evhost consumer. It prints one line per event, after `prefix` (optional;
//! the plugin's name when absent). The SDK reads the config with serde, refuses unknown
//! keys (`deny_unknown_fields`) and catches panics; no `unsafe` here.
#![forbid(unsafe_code)]

use std::io::Write;

use evhost_sdk::{Batch, Consumer, Context, Delivery, Error};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Starts each line.
    #[serde(default)]
    prefix: Option<String>,
}

pub struct Plugin {
    prefix: String,
}

impl Consumer for Plugin {
    const NAME: &'static str = "{{name}}";
    const DESCRIPTION: &'static str = "prints one line per event";
    type Config = Config;

    fn create(_ctx: Context, config: Config) -> Result<Self, Error> {
        Ok(Plugin { prefix: config.prefix.unwrap_or_else(|| Self::NAME.to_string()) })
    }

    fn on_events(&mut self, batch: &Batch<'_>) -> Delivery {
        let mut out = std::io::stdout().lock();
        for e in batch {
            let _ = writeln!(
                out,
                "[{}] #{} {} id={} source={} ({} bytes)",
                self.prefix,
                e.seq(),
                e.ty(),
                e.id(),
                e.source(),
                e.data().len()
            );
        }
        Delivery::Ok
    }
}

evhost_sdk::export_plugins!(consumer Plugin);
