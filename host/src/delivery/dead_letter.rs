//! The dead-letter target: events a consumer failed for good are written as JSON Lines in
//! the CloudEvents structured format, with the reason, so nothing is lost silently.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use base64::Engine;
use serde_json::{json, Map, Value};

use crate::bus::EventRef;

pub struct DeadLetter {
    consumer: String,
    path: Option<PathBuf>,
    file: Option<BufWriter<File>>,
}

/// The CloudEvents JSON form of an event: data inline when it is JSON, base64 otherwise.
pub fn to_json(event: &EventRef<'_>) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("specversion".into(), json!(event.specversion()));
    out.insert("id".into(), json!(event.id()));
    out.insert("source".into(), json!(event.source()));
    out.insert("type".into(), json!(event.ty()));
    for (key, value) in [
        ("subject", event.subject()),
        ("datacontenttype", event.datacontenttype()),
        ("dataschema", event.dataschema()),
        ("time", event.time()),
    ] {
        if !value.is_empty() {
            out.insert(key.into(), json!(value));
        }
    }
    for (key, value) in event.extensions() {
        out.insert(key.into(), json!(value));
    }
    let ct = event.datacontenttype();
    let json_type =
        ct.starts_with("application/json") || ct.split(';').next().is_some_and(|t| t.trim().ends_with("+json"));
    match serde_json::from_slice::<Value>(event.data()) {
        Ok(value) if json_type => {
            out.insert("data".into(), value);
        }
        _ if event.data().is_empty() => {}
        _ => {
            out.insert("data_base64".into(), json!(base64::engine::general_purpose::STANDARD.encode(event.data())));
        }
    }
    out
}

impl DeadLetter {
    pub fn new(consumer: &str, path: Option<PathBuf>) -> Self {
        DeadLetter { consumer: consumer.to_string(), path, file: None }
    }

    /// Records `events` as failed for `reason`. Without a target they are logged one by one.
    pub fn write<'a>(&mut self, events: impl Iterator<Item = EventRef<'a>>, reason: &str) -> std::io::Result<usize> {
        let Some(path) = &self.path else {
            let mut count = 0;
            for event in events {
                tracing::error!(consumer = %self.consumer, id = event.id(), seq = event.seq(), "event not delivered and no dead_letter file is configured: {reason}");
                count += 1;
            }
            return Ok(count);
        };
        if self.file.is_none() {
            let file = OpenOptions::new().create(true).append(true).open(path)?;
            self.file = Some(BufWriter::new(file));
        }
        let file = self.file.as_mut().expect("opened above");
        let mut count = 0;
        for event in events {
            let mut line = to_json(&event);
            line.insert("evhostseq".into(), json!(event.seq()));
            line.insert("evhostconsumer".into(), json!(self.consumer));
            line.insert("evhosterror".into(), json!(reason));
            serde_json::to_writer(&mut *file, &line)?;
            file.write_all(b"\n")?;
            count += 1;
        }
        file.flush()?;
        Ok(count)
    }
}
