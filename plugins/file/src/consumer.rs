//! The `file` consumer: one CloudEvents JSON line per event (`evhost_sdk::cloudevents::to_json`:
//! `data` inline when it is JSON, `data_base64` otherwise).

use evhost_sdk::{cloudevents, Batch, Consumer, Context, Delivery, Error};

use crate::config::Config;
use crate::output::{Output, WriteError};

/// Nothing is buffered between batches, so there is nothing to do on stop.
pub struct File {
    out: Output,
    /// The batch's lines, reused from batch to batch.
    buf: Vec<u8>,
    /// Where each line of `buf` ends.
    ends: Vec<usize>,
}

impl Consumer for File {
    const NAME: &'static str = "file";
    const DESCRIPTION: &'static str =
        "writes every event as a CloudEvents JSON line to a file (with rotation) or stdout";
    type Config = Config;

    fn create(ctx: Context, mut config: Config) -> Result<Self, Error> {
        config.path = config.path.map(|path| ctx.resolve(path).to_string_lossy().into_owned());
        let target = config.check()?;
        let warn = Box::new(move |message: String| ctx.warn(message));
        let out =
            Output::new(target, warn).map_err(|e| Error::config(format!("cannot open `path` for appending: {e}")))?;
        Ok(File { out, buf: Vec::new(), ends: Vec::new() })
    }

    fn on_events(&mut self, batch: &Batch<'_>) -> Delivery {
        self.buf.clear();
        self.ends.clear();
        for event in batch {
            serde_json::to_writer(&mut self.buf, &cloudevents::to_json(event))
                .expect("a JSON map serializes into a Vec");
            self.buf.push(b'\n');
            self.ends.push(self.buf.len());
        }
        match self.out.write(&self.buf, &self.ends) {
            Ok(()) => Delivery::Ok,
            Err(WriteError { handled, error }) => {
                Delivery::retry(handled, format!("cannot write {}: {error}", self.out.describe()))
            }
        }
    }
}
