//! Where a batch's lines go: stdout, or a file that rotates by size.

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

pub enum Output {
    Stdout,
    File(Rotating),
}

impl Output {
    pub fn new(target: Target) -> io::Result<Output> {
        Ok(match target {
            Target::Stdout => Output::Stdout,
            Target::File { path, rotate_bytes, keep, fsync } => {
                let mut file = Rotating { path, rotate_bytes, keep, fsync, file: None, size: 0 };
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
    /// `None` after an error or a rotation: the next write reopens it.
    file: Option<fs::File>,
    /// The file's length, kept so that rotation needs no `stat` per batch.
    size: u64,
}

impl Rotating {
    fn open(&mut self) -> io::Result<&mut fs::File> {
        if self.file.is_none() {
            let file = OpenOptions::new().read(true).append(true).create(true).open(&self.path)?;
            self.size = file.metadata()?.len();
            // A failed write may have left half a line; end it so the next line stays whole.
            let mut last = [0u8];
            if self.size > 0 && file.read_at(&mut last, self.size - 1)? == 1 && last[0] != b'\n' {
                (&file).write_all(b"\n")?;
                self.size += 1;
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

fn rename_if_exists(from: &Path, to: &Path) -> io::Result<()> {
    match fs::rename(from, to) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut out = Output::new(target).unwrap();
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
            Output::new(Target::File { path: path.clone(), rotate_bytes: Some(3), keep: 5, fsync: false }).unwrap();
        let (buf, ends) = lines(&["long line", "x"]);
        assert!(out.write(&buf, &ends).is_ok());
        assert_eq!(fs::read_to_string(&path).unwrap(), "x\n");
        assert_eq!(fs::read_to_string(dir.path().join("e.jsonl.1")).unwrap(), "long line\n");
    }

    #[test]
    fn a_half_written_line_is_ended_on_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        fs::write(&path, "{\"half").unwrap();
        let mut out =
            Output::new(Target::File { path: path.clone(), rotate_bytes: None, keep: 5, fsync: false }).unwrap();
        let (buf, ends) = lines(&["{}"]);
        assert!(out.write(&buf, &ends).is_ok());
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"half\n{}\n");
    }
}
