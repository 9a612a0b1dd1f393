//! `types`: keeps a count of events per type and prints the tally after each batch, so a
//! demo shows at a glance what kinds of events flow.

use std::collections::BTreeMap;
use std::io::Write;

use evhost_sdk::{Batch, Consumer, Context, Delivery, Error};

pub struct Types {
    ctx: Context,
    counts: BTreeMap<String, u64>,
}

impl Consumer for Types {
    const NAME: &'static str = "types";
    const DESCRIPTION: &'static str = "counts events per type and prints the tally after each batch";
    type Config = serde::de::IgnoredAny;

    fn create(ctx: Context, _config: Self::Config) -> Result<Self, Error> {
        Ok(Types { ctx, counts: BTreeMap::new() })
    }

    fn on_events(&mut self, batch: &Batch<'_>) -> Delivery {
        for event in batch {
            *self.counts.entry(event.ty().to_string()).or_default() += 1;
        }
        let tally: Vec<String> = self.counts.iter().map(|(ty, n)| format!("{ty}={n}")).collect();
        let _ = writeln!(std::io::stdout().lock(), "[rust types] {}", tally.join(" "));
        Delivery::Ok
    }

    fn on_stop(&mut self) {
        self.ctx.info(format!("events per type: {:?}", self.counts));
    }
}
