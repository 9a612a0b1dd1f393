//! The dead-letter target: events a consumer failed for good are written as JSON Lines in
//! the CloudEvents structured format, with the reason, so nothing is lost silently. A batch
//! is written with plain `write` calls that resume where a failure stopped them; what the
//! delivery stage does when the file cannot be written is its business (it retries, then
//! counts the events as lost).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use evhost_cloudevents::json::to_json;
use evhost_cloudevents::CloudEvent;
use serde_json::json;

use crate::log::EventRef;

pub struct DeadLetter {
    consumer: String,
    path: PathBuf,
    file: Option<File>,
}

/// One batch's dead letters as JSON Lines, and how far they got into the file. A failed
/// write resumes where it stopped, so a retry neither repeats nor tears a line.
pub struct Letters {
    text: Vec<u8>,
    /// Where each event's line ends in `text`.
    ends: Vec<usize>,
    written: usize,
}

impl Letters {
    /// How many events there are.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// How many events have their whole line in the file.
    pub fn written(&self) -> usize {
        self.ends.partition_point(|end| *end <= self.written)
    }

    /// Starts the current line again: it goes to a new file, and the old one kept only a part.
    fn restart_line(&mut self) {
        self.written = self.ends[..self.written()].last().copied().unwrap_or(0);
    }
}

/// The log's events as the CloudEvents formats read them: an empty attribute is absent.
impl CloudEvent for EventRef<'_> {
    fn specversion(&self) -> &str {
        EventRef::specversion(self)
    }
    fn id(&self) -> &str {
        EventRef::id(self)
    }
    fn source(&self) -> &str {
        EventRef::source(self)
    }
    fn ty(&self) -> &str {
        EventRef::ty(self)
    }
    fn subject(&self) -> Option<&str> {
        present(EventRef::subject(self))
    }
    fn datacontenttype(&self) -> Option<&str> {
        present(EventRef::datacontenttype(self))
    }
    fn dataschema(&self) -> Option<&str> {
        present(EventRef::dataschema(self))
    }
    fn time(&self) -> Option<&str> {
        present(EventRef::time(self))
    }
    fn data(&self) -> &[u8] {
        EventRef::data(self)
    }
    fn extensions(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        EventRef::extensions(self)
    }
}

fn present(value: &str) -> Option<&str> {
    Some(value).filter(|value| !value.is_empty())
}

impl DeadLetter {
    pub fn new(consumer: &str, path: PathBuf) -> Self {
        DeadLetter { consumer: consumer.to_string(), path, file: None }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The dead letters of `events`, failed for `reason`, ready to write.
    pub fn letters<'a>(&self, events: impl Iterator<Item = EventRef<'a>>, reason: &str) -> Letters {
        let mut letters = Letters { text: Vec::new(), ends: Vec::new(), written: 0 };
        for event in events {
            let mut line = to_json(&event);
            line.insert("evhostseq".into(), json!(event.seq()));
            line.insert("evhostconsumer".into(), json!(self.consumer));
            line.insert("evhosterror".into(), json!(reason));
            serde_json::to_writer(&mut letters.text, &line).expect("a JSON map serializes into a Vec");
            letters.text.push(b'\n');
            letters.ends.push(letters.text.len());
        }
        letters
    }

    /// Appends what is left of `letters` to the file. The file is opened on the first dead
    /// letter (so its existence means something failed), and opened again when the path
    /// no longer names the file held open: after a rotation, or when it was removed, writing
    /// on to the old file would lose the letters where no one looks.
    pub fn write(&mut self, letters: &mut Letters) -> std::io::Result<()> {
        if self.file.as_ref().is_some_and(|file| !self.still_at_path(file)) {
            self.file = None;
            letters.restart_line();
        }
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(OpenOptions::new().create(true).append(true).open(&self.path)?),
        };
        while letters.written < letters.text.len() {
            match file.write(&letters.text[letters.written..]) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => letters.written += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn still_at_path(&self, file: &File) -> bool {
        match (std::fs::metadata(&self.path), file.metadata()) {
            (Ok(at_path), Ok(held)) => at_path.dev() == held.dev() && at_path.ino() == held.ino(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DeadLetter;
    use crate::config::{LogConfig, Policy};
    use crate::log::{Batch, ChunkBuilder, EventIn, Log, Read};

    /// A batch of events with ids `ids` (content type and data as given for the first).
    fn batch_of(ids: &[&str], events: &[(&str, &[u8])]) -> Batch {
        let mut builder = ChunkBuilder::with_capacity(ids.len().max(events.len()), 0, 0);
        for i in 0..ids.len().max(events.len()) {
            let id = ids.get(i).map_or_else(|| i.to_string(), |id| id.to_string());
            let (datacontenttype, data) = events.get(i).copied().unwrap_or(("", b""));
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
        let log = Log::new(&LogConfig::memory(16, 1 << 20));
        let reader = log.add_consumer(Policy::Block);
        log.append(builder, false).unwrap();
        let mut batch = Batch::default();
        assert!(matches!(log.try_read(reader, 16, &mut batch), Read::Events { .. }));
        batch
    }

    fn ids_in(path: &std::path::Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn a_failed_write_keeps_the_letters_and_counts_none_written() {
        let mut dead_letter = DeadLetter::new("c", "/dev/full".into());
        let batch = batch_of(&["a", "b"], &[]);
        let mut letters = dead_letter.letters(batch.iter_from(0), "why");
        let error = dead_letter.write(&mut letters).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(28), "{error}");
        assert_eq!((letters.len(), letters.written()), (2, 0));
    }

    #[test]
    fn letters_go_to_the_file_at_the_path_even_after_it_was_moved_away() {
        let dir = tempfile::tempdir().unwrap();
        let (path, rotated) = (dir.path().join("dlq.jsonl"), dir.path().join("dlq.jsonl.1"));
        let mut dead_letter = DeadLetter::new("c", path.clone());
        let batch = batch_of(&["a", "b", "c"], &[]);
        let mut first = dead_letter.letters(batch.iter_from(0).take(1), "why");
        dead_letter.write(&mut first).unwrap();
        std::fs::rename(&path, &rotated).unwrap();
        let mut rest = dead_letter.letters(batch.iter_from(1), "why");
        dead_letter.write(&mut rest).unwrap();
        assert_eq!(rest.written(), 2);
        assert_eq!(ids_in(&rotated), ["a"]);
        assert_eq!(ids_in(&path), ["b", "c"]);
        // Its folder gone, the path cannot be written, and the writer says so.
        std::fs::remove_dir_all(dir.path()).unwrap();
        let mut more = dead_letter.letters(batch.iter_from(0), "why");
        assert!(dead_letter.write(&mut more).is_err());
        assert_eq!(more.written(), 0);
    }

    #[test]
    fn a_line_cut_short_starts_again_in_a_new_file() {
        let batch = batch_of(&["a", "b"], &[]);
        let mut letters = DeadLetter::new("c", "x".into()).letters(batch.iter_from(0), "why");
        letters.written = letters.ends[0] + 3;
        assert_eq!(letters.written(), 1);
        letters.restart_line();
        assert_eq!(letters.written, letters.ends[0]);
    }

    /// The `data`/`data_base64` of each event's JSON, for (content type, data) pairs.
    fn data_of(events: &[(&str, &[u8])]) -> Vec<serde_json::Value> {
        let batch = batch_of(&[], events);
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
