//! `sequence`: emits `count` events in batches of `batch`, then finishes.
//!
//! Event k (from 0): id = k in decimal, source `/evhost/examples/sequence`, type
//! `dev.evhost.example.sequence`, datacontenttype `application/octet-stream`, and
//! `payload_bytes` data bytes where byte i = (k + i) mod 256.

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering};

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
    stop: AtomicBool,
}

impl Producer for Sequence {
    const NAME: &'static str = "sequence";
    const DESCRIPTION: &'static str = "emits `count` numbered events with a known payload, then finishes";
    type Config = Config;

    fn create(_ctx: Context, config: Config) -> Result<Self, Error> {
        if config.batch == 0 {
            return Err(Error::config("config: `batch` must be at least 1"));
        }
        Ok(Sequence { config, stop: AtomicBool::new(false) })
    }

    fn run(&self, emitter: &mut Emitter) -> Result<(), Error> {
        let Config { count, payload_bytes, batch } = self.config;
        // One batch's ids and payloads live in these buffers, reused from batch to batch;
        // the events borrow from them.
        let mut ids = String::new();
        let mut id_ends = Vec::with_capacity(batch);
        let mut data = Vec::with_capacity(batch * payload_bytes);
        let mut k = 0;
        while k < count {
            if self.stop.load(Ordering::Relaxed) || emitter.stop_requested() {
                break;
            }
            let n = (count - k).min(batch as u64) as usize;
            ids.clear();
            id_ends.clear();
            data.clear();
            for key in k..k + n as u64 {
                write!(ids, "{key}").expect("writing to a String cannot fail");
                id_ends.push(ids.len());
                data.extend((0..payload_bytes).map(|i| (key as u8).wrapping_add(i as u8)));
            }
            let events: Vec<OutEvent<'_>> = (0..n)
                .map(|j| {
                    let id_start = if j == 0 { 0 } else { id_ends[j - 1] };
                    OutEvent::new(&ids[id_start..id_ends[j]], SOURCE, TYPE)
                        .datacontenttype(CONTENT_TYPE)
                        .data(&data[j * payload_bytes..(j + 1) * payload_bytes])
                })
                .collect();
            match emitter.emit(&events) {
                Ok(()) => k += n as u64,
                Err(EmitError::Stopped) => break,
                Err(err) => return Err(err.into()),
            }
        }
        Ok(())
    }

    fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
