//! `sequence`: emits `count` events in batches of `batch`, then finishes.
//!
//! Event k (from 0): id = k in decimal, source `/evhost/examples/sequence`, type
//! `dev.evhost.example.sequence`, datacontenttype `application/octet-stream`, and
//! `payload_bytes` data bytes where byte i = (k + i) mod 256.

use evhost_sdk::{Context, EmitError, Emitter, Error, OutEvent, Producer};
use serde::Deserialize;

const SOURCE: &str = "/evhost/examples/sequence";
const TYPE: &str = "dev.evhost.example.sequence";
const CONTENT_TYPE: &str = "application/octet-stream";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How many events to emit.
    count: u64,
    /// Data bytes per event.
    #[serde(default = "default_64")]
    payload_bytes: usize,
    /// Events per `emit` call.
    #[serde(default = "default_64")]
    batch: usize,
}

fn default_64() -> usize {
    64
}

pub struct Sequence {
    config: Config,
}

impl Producer for Sequence {
    const NAME: &'static str = "sequence";
    const DESCRIPTION: &'static str = "emits `count` numbered events with a known payload, then finishes";
    type Config = Config;

    fn create(_ctx: Context, config: Config) -> Result<Self, Error> {
        if config.batch == 0 {
            return Err(Error::config("config: `batch` must be at least 1"));
        }
        Ok(Sequence { config })
    }

    fn run(&self, emitter: &mut Emitter) -> Result<(), Error> {
        let Config { count, payload_bytes, batch } = self.config;
        // pattern[j] = j mod 256, so the data of event k is the window starting at k mod 256.
        let pattern: Vec<u8> = (0..payload_bytes + 255).map(|j| j as u8).collect();
        // One id buffer per event of a batch, reused from batch to batch (as the C example
        // keeps one id slot per event): each id is formatted into its own buffer while the
        // SDK builds the batch, so nothing is copied or sliced twice.
        let mut ids = vec![itoa::Buffer::new(); batch];
        let template = OutEvent::new("", SOURCE, TYPE).datacontenttype(CONTENT_TYPE);
        let mut k = 0;
        while k < count {
            // True once the host called on_stop: the SDK keeps the flag, so no `stop` here.
            if emitter.stop_requested() {
                break;
            }
            let n = (count - k).min(batch as u64) as usize;
            // Every event shares the template's attributes: emit_like builds no OutEvent
            // per event.
            let events = ids[..n].iter_mut().zip(k..).map(|(id, key)| {
                let window = key as usize % 256;
                (id.format(key), &pattern[window..window + payload_bytes])
            });
            match emitter.emit_like(&template, events) {
                Ok(()) => k += n as u64,
                Err(EmitError::Stopped) => break,
                Err(err) => return Err(err.into()),
            }
        }
        Ok(())
    }
}
