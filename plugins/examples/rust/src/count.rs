//! `count`: counts events and data bytes, as cheaply as possible (benchmarks use it). On
//! stop, if `path` is set, writes `{"count": N, "bytes": B}` and a newline to it.

use std::path::PathBuf;

use evhost_sdk::{Batch, Consumer, Context, Delivery, Error};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where to write the totals on stop; nowhere when absent.
    path: Option<PathBuf>,
}

pub struct Count {
    ctx: Context,
    path: Option<PathBuf>,
    count: u64,
    bytes: u64,
}

impl Consumer for Count {
    const NAME: &'static str = "count";
    const DESCRIPTION: &'static str = "counts events and data bytes; writes the totals on stop";
    type Config = Config;

    fn create(ctx: Context, config: Config) -> Result<Self, Error> {
        let path = config.path.map(|path| ctx.resolve(path));
        Ok(Count { ctx, path, count: 0, bytes: 0 })
    }

    fn on_events(&mut self, batch: &Batch<'_>) -> Delivery {
        self.count += batch.len() as u64;
        self.bytes += batch.iter().map(|e| e.data().len() as u64).sum::<u64>();
        Delivery::Ok
    }

    fn on_stop(&mut self) {
        let Some(path) = &self.path else { return };
        let out = format!("{{\"count\": {}, \"bytes\": {}}}\n", self.count, self.bytes);
        if let Err(err) = std::fs::write(path, out) {
            self.ctx.error(format!("cannot write {}: {err}", path.display()));
        }
    }
}
