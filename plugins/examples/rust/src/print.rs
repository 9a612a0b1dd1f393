//! `print`: one line per event on stdout. The README's Rust example, and the demo's console.

use evhost_sdk::{Batch, Consumer, Context, Delivery, Error};
use std::io::Write;

pub struct Print;

impl Consumer for Print {
    const NAME: &'static str = "print";
    const DESCRIPTION: &'static str = "prints one line per event to stdout";
    type Config = serde::de::IgnoredAny;

    fn create(_ctx: Context, _config: Self::Config) -> Result<Self, Error> {
        Ok(Print)
    }

    fn on_events(&mut self, batch: &Batch<'_>) -> Delivery {
        let mut out = std::io::stdout().lock();
        for e in batch {
            let _ = writeln!(
                out,
                "[rust] #{} {} id={} source={} ({} bytes)",
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
