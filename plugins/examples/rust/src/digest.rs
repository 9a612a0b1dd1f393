//! `digest`: folds every event, in order, into a 64-bit FNV-1a hash and writes it on stop.
//!
//! Per event it hashes the id, 0x1F, the type, 0x1F, the data, 0x1E. On stop it writes
//! `{"count": N, "digest": "<16 lowercase hex digits>", "in_order": true|false}` and a
//! newline to `path`; `in_order` says every sequence number was above the one before.

use std::path::PathBuf;

use evhost_sdk::{Batch, Consumer, Context, Delivery, Error};
use serde::Deserialize;

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where to write the result on stop.
    path: PathBuf,
}

pub struct Digest {
    ctx: Context,
    path: PathBuf,
    hash: u64,
    count: u64,
    last_seq: Option<u64>,
    in_order: bool,
}

fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash = (hash ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }
    hash
}

impl Consumer for Digest {
    const NAME: &'static str = "digest";
    const DESCRIPTION: &'static str = "hashes every event (FNV-1a over id, type, data) and writes the digest on stop";
    type Config = Config;

    fn create(ctx: Context, config: Config) -> Result<Self, Error> {
        let path = ctx.resolve(&config.path);
        Ok(Digest { ctx, path, hash: FNV_OFFSET_BASIS, count: 0, last_seq: None, in_order: true })
    }

    fn on_events(&mut self, batch: &Batch<'_>) -> Delivery {
        for event in batch {
            let mut h = fnv1a(self.hash, event.id().as_bytes());
            h = fnv1a(h, &[0x1f]);
            h = fnv1a(h, event.ty().as_bytes());
            h = fnv1a(h, &[0x1f]);
            h = fnv1a(h, event.data());
            self.hash = fnv1a(h, &[0x1e]);
            self.count += 1;
            if self.last_seq.is_some_and(|last| event.seq() <= last) {
                self.in_order = false;
            }
            self.last_seq = Some(event.seq());
        }
        Delivery::Ok
    }

    fn on_stop(&mut self) {
        let out = format!(
            "{{\"count\": {}, \"digest\": \"{:016x}\", \"in_order\": {}}}\n",
            self.count, self.hash, self.in_order
        );
        if let Err(err) = std::fs::write(&self.path, out) {
            self.ctx.error(format!("cannot write {}: {err}", self.path.display()));
        }
    }
}
