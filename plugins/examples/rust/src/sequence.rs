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
        // One batch's ids live in this buffer, reused from batch to batch; the events borrow
        // from it and from the pattern.
        let mut ids = String::new();
        let mut id_ends = Vec::with_capacity(batch);
        let mut number = itoa::Buffer::new();
        let template = OutEvent::new("", SOURCE, TYPE).datacontenttype(CONTENT_TYPE);
        let mut k = 0;
        while k < count {
            // True once the host called on_stop: the SDK keeps the flag, so no `stop` here.
            if emitter.stop_requested() {
                break;
            }
            let n = (count - k).min(batch as u64) as usize;
            ids.clear();
            id_ends.clear();
            for key in k..k + n as u64 {
                ids.push_str(number.format(key));
                id_ends.push(ids.len());
            }
            // Every event shares the template's attributes: emit_like builds no OutEvent
            // per event.
            let events = (0..n).map(|j| {
                let id_start = if j == 0 { 0 } else { id_ends[j - 1] };
                let window = (k as usize + j) % 256;
                (&ids[id_start..id_ends[j]], &pattern[window..window + payload_bytes])
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
