//! Where a batch's lines go: stdout, or a file that rotates by size, whose torn last line
//! (from a crash or a failed write mid-line) is cut off whenever it is opened.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::config::Target;

/// A write that failed after `handled` whole lines of the batch reached the output.
pub struct WriteError {
    pub handled: usize,
    pub error: io::Error,
}

/// Told what a repair cut: a message naming the file and the bytes (the consumer logs it as a WARN).
pub type Warn = Box<dyn Fn(String) + Send>;

pub enum Output {
    Stdout,
    File(Rotating),
}

impl Output {
    pub fn new(target: Target, warn: Warn) -> io::Result<Output> {
        Ok(match target {
            Target::Stdout => Output::Stdout,
            Target::File { path, rotate_bytes, keep, fsync } => {
                let mut file = Rotating { path, rotate_bytes, keep, fsync, warn, file: None, size: 0 };
                // Open now, so that a file we cannot write fails the instance at start.
                file.open()?;
                Output::File(file)
            }
        })
    }

    /// Writes `buf`, whose lines end at the offsets `ends`, and flushes it.
    pub fn write(&mut self, buf: &[u8], ends: &[usize]) -> Result<(), WriteError> {
        match self {
            Output::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(buf).and_then(|()| out.flush()).map_err(|error| WriteError { handled: 0, error })
            }
            Output::File(file) => file.write(buf, ends),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Output::Stdout => "stdout".into(),
            Output::File(file) => file.path.display().to_string(),
        }
    }
}

/// An append-only file that moves aside (`path` → `path.1` → … → `path.<keep>`) before a line
/// would take it past `rotate_bytes`. Lines are never split across files.
pub struct Rotating {
    path: PathBuf,
    rotate_bytes: Option<u64>,
    keep: u32,
    fsync: bool,
    warn: Warn,
    /// `None` after an error or a rotation: the next write reopens it.
    file: Option<fs::File>,
    /// The file's length, kept so that rotation needs no `stat` per batch.
    size: u64,
}

impl Rotating {
    fn open(&mut self) -> io::Result<&mut fs::File> {
        if self.file.is_none() {
            let file = OpenOptions::new().read(true).append(true).create(true).open(&self.path)?;
            let len = file.metadata()?.len();
            self.size = whole_lines(&file, len)?;
            if self.size < len {
                // Half an event is never useful, and left in place the next line would be glued
                // onto it: cut it, and make the cut durable before anything is appended.
                file.set_len(self.size)?;
                file.sync_all()?;
                (self.warn)(format!(
                    "{}: cut {} bytes of a torn last line (a crash or a failed write mid-line), so that every line is a whole event",
                    self.path.display(),
                    len - self.size
                ));
            }
            self.file = Some(file);
        }
        Ok(self.file.as_mut().expect("opened above"))
    }

    fn write(&mut self, buf: &[u8], ends: &[usize]) -> Result<(), WriteError> {
        // `start`: the first byte not yet written, where line `written` begins.
        let (mut start, mut written) = (0, 0);
        if let Some(limit) = self.rotate_bytes {
            for (i, &end) in ends.iter().enumerate() {
                let line_start = if i == 0 { 0 } else { ends[i - 1] };
                let size_before = self.size + (line_start - start) as u64;
                if size_before > 0 && size_before + (end - line_start) as u64 > limit {
                    self.append(&buf[start..line_start]).map_err(|error| WriteError { handled: written, error })?;
                    (start, written) = (line_start, i);
                    self.rotate().map_err(|error| WriteError { handled: written, error })?;
                }
            }
        }
        self.append(&buf[start..]).map_err(|error| WriteError { handled: written, error })
    }

    /// Writes `bytes` at the end, fsyncing when asked; forgets the file on error.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let fsync = self.fsync;
        let result = self.open().and_then(|file| {
            file.write_all(bytes)?;
            if fsync {
                file.sync_data()?;
            }
            Ok(())
        });
        match result {
            Ok(()) => self.size += bytes.len() as u64,
            Err(_) => self.file = None,
        }
        result
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        let numbered = |n: u32| -> PathBuf {
            let mut name = self.path.clone().into_os_string();
            name.push(format!(".{n}"));
            name.into()
        };
        if self.keep == 0 {
            fs::remove_file(&self.path)?;
        } else {
            for n in (1..self.keep).rev() {
                rename_if_exists(&numbered(n), &numbered(n + 1))?;
            }
            fs::rename(&self.path, numbered(1))?;
        }
        self.size = 0;
        Ok(())
    }
}

/// The length of `file`'s whole lines: up to and with its last `\n` (0 when it has none),
/// read backwards from `len` a block at a time.
fn whole_lines(file: &fs::File, len: u64) -> io::Result<u64> {
    let mut block = [0u8; 4096];
    let mut end = len;
    while end > 0 {
        let start = end.saturating_sub(block.len() as u64);
        let block = &mut block[..(end - start) as usize];
        file.read_exact_at(block, start)?;
        if let Some(i) = block.iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

fn rename_if_exists(from: &Path, to: &Path) -> io::Result<()> {
    match fs::rename(from, to) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn quiet() -> Warn {
        Box::new(|_| ())
    }

    /// A `Warn` that keeps the messages, and the list it keeps them in.
    fn recording() -> (Warn, Arc<Mutex<Vec<String>>>) {
        let messages = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&messages);
        (Box::new(move |message| kept.lock().unwrap().push(message)), messages)
    }

    fn lines(lines: &[&str]) -> (Vec<u8>, Vec<usize>) {
        let (mut buf, mut ends) = (Vec::new(), Vec::new());
        for line in lines {
            buf.extend_from_slice(line.as_bytes());
            buf.push(b'\n');
            ends.push(buf.len());
        }
        (buf, ends)
    }

    #[test]
    fn rotates_between_lines_and_keeps_the_newest_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        let target = Target::File { path: path.clone(), rotate_bytes: Some(10), keep: 2, fsync: true };
        let mut out = Output::new(target, quiet()).unwrap();
        // Each line is 5 bytes with its newline: two per file.
        let (buf, ends) = lines(&["aaaa", "bbbb", "cccc", "dddd", "eeee", "ffff", "gggg"]);
        assert!(out.write(&buf, &ends).is_ok());
        let read = |suffix: &str| fs::read_to_string(format!("{}{suffix}", path.display())).unwrap();
        assert_eq!(read(""), "gggg\n");
        assert_eq!(read(".1"), "eeee\nffff\n");
        assert_eq!(read(".2"), "cccc\ndddd\n");
        assert!(!dir.path().join("e.jsonl.3").exists());
    }

    #[test]
    fn a_line_longer_than_the_limit_gets_a_file_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        let mut out =
            Output::new(Target::File { path: path.clone(), rotate_bytes: Some(3), keep: 5, fsync: false }, quiet())
                .unwrap();
        let (buf, ends) = lines(&["long line", "x"]);
        assert!(out.write(&buf, &ends).is_ok());
        assert_eq!(fs::read_to_string(&path).unwrap(), "x\n");
        assert_eq!(fs::read_to_string(dir.path().join("e.jsonl.1")).unwrap(), "long line\n");
    }

    #[test]
    fn a_torn_last_line_is_cut_on_open_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        fs::write(&path, "{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"x\",\"sou").unwrap();
        let (warn, messages) = recording();
        let target = Target::File { path: path.clone(), rotate_bytes: None, keep: 5, fsync: true };
        let mut out = Output::new(target, warn).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"id\":\"a\"}\n{\"id\":\"b\"}\n", "cut on open");
        let (buf, ends) = lines(&["{}"]);
        assert!(out.write(&buf, &ends).is_ok());
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"id\":\"a\"}\n{\"id\":\"b\"}\n{}\n");
        let messages = messages.lock().unwrap();
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].contains(&path.display().to_string()), "{messages:?}");
        assert!(messages[0].contains("cut 14 bytes"), "{messages:?}");
    }

    #[test]
    fn a_file_without_a_whole_line_is_emptied_and_a_whole_one_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        // Longer than one block read backwards, with no newline at all.
        fs::write(&path, "x".repeat(10_000)).unwrap();
        let (warn, messages) = recording();
        let target = |fsync| Target::File { path: path.clone(), rotate_bytes: None, keep: 5, fsync };
        drop(Output::new(target(false), warn).unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), "");
        assert!(messages.lock().unwrap()[0].contains("cut 10000 bytes"));
        // A newline far back: everything after it goes.
        fs::write(&path, format!("{{}}\n{}", "y".repeat(9_000))).unwrap();
        drop(Output::new(target(false), quiet()).unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), "{}\n");
        let (warn, messages) = recording();
        drop(Output::new(target(true), warn).unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), "{}\n");
        assert!(messages.lock().unwrap().is_empty(), "nothing to cut, nothing said");
    }

    #[test]
    fn a_torn_line_is_cut_when_rotation_reopens_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        let (warn, messages) = recording();
        let target = Target::File { path: path.clone(), rotate_bytes: Some(10), keep: 2, fsync: false };
        let mut out = Output::new(target, warn).unwrap();
        let (buf, ends) = lines(&["aaaa", "bbbb", "cccc"]);
        assert!(out.write(&buf, &ends).is_ok());
        // Another writer (or a crash of an older one) left half a line where the next
        // write reopens: forget the handle the way a failed write does.
        let Output::File(rotating) = &mut out else { unreachable!() };
        rotating.file = None;
        fs::write(&path, "cccc\ndd").unwrap();
        let (buf, ends) = lines(&["eeee"]);
        assert!(out.write(&buf, &ends).is_ok());
        assert_eq!(fs::read_to_string(&path).unwrap(), "cccc\neeee\n");
        assert!(messages.lock().unwrap()[0].contains("cut 2 bytes"));
    }
}
