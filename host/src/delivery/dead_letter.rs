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
    // The rule of the SDK's cloudevents::to_json, so that the dead-letter file and the
    // `file` plugin write an event alike: no content type means JSON (as the CloudEvents
    // JSON format says), and so do application/json, text/json and */*+json.
    let ct = event.datacontenttype();
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let json_type =
        ct.is_empty() || essence == "application/json" || essence == "text/json" || essence.ends_with("+json");
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

#[cfg(test)]
mod tests {
    use crate::bus::{Batch, Bus, ChunkBuilder, EventIn, Read};
    use crate::config::{LogConfig, Policy};

    /// The `data`/`data_base64` of each event's JSON, for (content type, data) pairs.
    fn data_of(events: &[(&str, &[u8])]) -> Vec<serde_json::Value> {
        let mut builder = ChunkBuilder::with_capacity(events.len(), 0, 0);
        for (i, (datacontenttype, data)) in events.iter().enumerate() {
            let id = i.to_string();
            builder.push_event(&EventIn {
                id: &id,
                source: "/s",
                specversion: "",
                ty: "t",
                subject: "",
                datacontenttype,
                dataschema: "",
                time: "",
                data,
            });
        }
        let bus = Bus::new(&LogConfig { capacity: 16, max_bytes: 1 << 20 });
        let reader = bus.add_consumer(Policy::Block);
        bus.append(builder, false).unwrap();
        let mut batch = Batch::default();
        assert!(matches!(bus.try_read(reader, 16, &mut batch), Read::Events { .. }));
        batch
            .iter_from(0)
            .map(|e| {
                let json = super::to_json(&e);
                json.get("data").or_else(|| json.get("data_base64")).cloned().unwrap_or_default()
            })
            .collect()
    }

    #[test]
    fn data_is_inline_when_the_type_is_json_or_absent_and_it_parses() {
        let data = data_of(&[
            ("", br#"{"a":1}"#),
            ("Text/JSON; charset=utf-8", b"[1]"),
            ("application/cloudevents+json", b"2"),
            ("application/json", b"not json"),
            ("application/octet-stream", br#"{"a":1}"#),
        ]);
        let expected = [
            serde_json::json!({"a": 1}),
            serde_json::json!([1]),
            serde_json::json!(2),
            "bm90IGpzb24=".into(),
            "eyJhIjoxfQ==".into(),
        ];
        assert_eq!(data, expected);
    }
}
