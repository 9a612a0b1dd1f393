//! The disk log's files: append-only segments named by their first sequence number, each a
//! run of CRC-checked records (one per emitted batch, see `record`), the consumers' ledger
//! (`ledger`), and a lock so that two hosts never share one folder. The log itself (cursors,
//! waiting, the memory window of recent chunks) stays in `log`; this is what it keeps on
//! disk and how it reads back what has left memory.
//!
//! Hand-written: this is the heart of the product's durability, and a general-purpose
//! embedded database would add a second log under ours (see docs/decisions.md).

mod ledger;
mod record;
mod recovery;
mod writer;

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

pub use ledger::{Ledger, LedgerWriter};
use record::{Header, HEADER};
pub use writer::Writer;

use super::Chunk;
use crate::config::DiskConfig;

/// An index entry every this many bytes of a segment: a reader seeks to the entry before
/// the event it wants and reads on from there.
const INDEX_EVERY: u64 = 1 << 20;

/// One segment file.
pub struct Segment {
    pub first: u64,
    path: PathBuf,
    /// Bytes of whole records in the file.
    pub len: u64,
    /// The sequence number after its last event.
    pub end: u64,
    /// (first sequence number, offset) of some of its records, in order.
    index: Vec<(u64, u64)>,
}

impl Segment {
    fn new(first: u64, path: PathBuf) -> Segment {
        Segment { first, path, len: 0, end: first, index: Vec::new() }
    }

    /// Notes a record written (or found) at `offset`.
    fn add(&mut self, header: Header, offset: u64) {
        if self.index.last().is_none_or(|&(_, at)| offset >= at + INDEX_EVERY) {
            self.index.push((header.first, offset));
        }
        self.len = offset + header.size();
        self.end = header.end();
    }

    fn name(first: u64) -> String {
        format!("{first:020}.seg")
    }
}

/// Why the disk log could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot use the log folder {path}: {source}")]
    Folder { path: PathBuf, source: std::io::Error },
    #[error("the log folder {path} is in use by another evhost process")]
    InUse { path: PathBuf },
    #[error("cannot recover the disk log in {path}: {source}")]
    Recovery { path: PathBuf, source: std::io::Error },
}

/// What `open` found.
pub struct Opened {
    pub disk: Disk,
    pub ledger: Ledger,
    /// The sequence number the next event gets.
    pub head: u64,
    /// The oldest sequence number on disk.
    pub tail: u64,
}

pub struct Disk {
    pub dir: PathBuf,
    pub config: DiskConfig,
    segments: Mutex<Vec<Segment>>,
    /// The generation of the ledger found at open; the writer goes on from it.
    pub ledger_generation: u64,
    /// Held (locked) for the life of the process.
    _lock: File,
}

/// Where a consumer's last read from disk ended, so that the next one reads on instead of
/// seeking again.
#[derive(Default)]
pub struct ReadHint {
    /// The segment (by first sequence number), its open file, and the record after the last
    /// one read: its offset and first sequence number.
    at: Option<(u64, Arc<File>, u64, u64)>,
}

impl Disk {
    /// Opens (creating it if need be) and recovers the log in `config.path`.
    pub fn open(config: &DiskConfig) -> Result<Opened, OpenError> {
        let dir = config.path.clone();
        let folder = |source| OpenError::Folder { path: dir.clone(), source };
        fs::create_dir_all(&dir).map_err(folder)?;
        let lock = File::create(dir.join("LOCK")).map_err(folder)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(OpenError::InUse { path: dir }),
            Err(fs::TryLockError::Error(e)) => return Err(folder(e)),
        }
        let recovery = |source| OpenError::Recovery { path: dir.clone(), source };
        let paths = segment_files(&dir).map_err(recovery)?;
        let segments = recovery::recover(&dir, paths).map_err(recovery)?;
        let (ledger, ledger_generation) = match Ledger::read(&dir) {
            Ok(found) => found,
            Err(e) => {
                // Starting over from the oldest event delivers some events twice; refusing to
                // start would deliver none.
                tracing::warn!("log recovery: {e}; every consumer starts at the oldest event on disk");
                (Ledger::default(), 0)
            }
        };
        let end = segments.last().map_or(1, |s| s.end);
        let head = end.max(ledger.head).max(1);
        let tail = segments.first().map_or(head, |s| s.index.first().map_or(s.first, |&(first, _)| first));
        tracing::info!(path = %dir.display(), first = tail, last = head - 1, segments = segments.len(), "disk log recovered");
        let disk = Disk { dir, config: config.clone(), segments: Mutex::new(segments), ledger_generation, _lock: lock };
        Ok(Opened { disk, ledger, head, tail })
    }

    fn segments(&self) -> MutexGuard<'_, Vec<Segment>> {
        self.segments.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn segment_count(&self) -> usize {
        self.segments().len()
    }

    /// Bytes of records on disk.
    pub fn bytes(&self) -> u64 {
        self.segments().iter().map(|s| s.len).sum()
    }

    /// Deletes the segments, all but the last, whose events all come before `before`;
    /// returns the oldest sequence number left on disk, if any segment was deleted.
    pub fn delete_before(&self, before: u64) -> std::io::Result<Option<u64>> {
        let mut segments = self.segments();
        let mut deleted = false;
        while segments.len() > 1 && segments[0].end <= before {
            fs::remove_file(&segments[0].path)?;
            segments.remove(0);
            deleted = true;
        }
        if deleted && self.config.fsync != crate::config::Fsync::Never {
            ledger::sync_dir(&self.dir)?;
        }
        Ok(deleted.then(|| segments[0].first))
    }

    /// The segment after the oldest, if there are two or more: how far deleting the oldest
    /// would move the tail, and how many bytes it would free.
    pub fn oldest(&self) -> Option<(u64, u64)> {
        let segments = self.segments();
        (segments.len() > 1).then(|| (segments[0].end, segments[0].len))
    }

    /// Reads the records holding events `from..until` (or the first ones after `from`, when
    /// events were lost there), up to about `max_bytes` of them.
    pub fn read(
        &self,
        from: u64,
        until: u64,
        max_bytes: usize,
        hint: &mut ReadHint,
    ) -> std::io::Result<Vec<Arc<Chunk>>> {
        let mut chunks = Vec::new();
        let mut bytes = 0usize;
        let mut next = from;
        while next < until && bytes < max_bytes {
            let (first, path, len, mut offset) = {
                let segments = self.segments();
                let at = segments.partition_point(|s| s.end <= next);
                // Only the newest segment can be empty (nothing written to it yet): then
                // nothing from `next` on is on disk.
                let Some(segment) = segments.get(at).filter(|s| !s.index.is_empty()) else { break };
                let offset = match &hint.at {
                    Some((first, _, offset, seq)) if *first == segment.first && *seq <= next => *offset,
                    _ => segment.index[segment.index.partition_point(|&(seq, _)| seq <= next).saturating_sub(1)].1,
                };
                (segment.first, segment.path.clone(), segment.len, offset)
            };
            let file = match &hint.at {
                Some((segment, file, ..)) if *segment == first => file.clone(),
                _ => Arc::new(File::open(&path)?),
            };
            let mut header = [0u8; HEADER];
            while offset < len && next < until && bytes < max_bytes {
                file.read_exact_at(&mut header, offset)?;
                let record = Header::parse(&header).ok_or_else(|| corrupt(&path, offset))?;
                if record.end() > next {
                    let mut payload = vec![0u8; record.len as usize];
                    file.read_exact_at(&mut payload, offset + HEADER as u64)?;
                    if !record.holds(&payload) {
                        return Err(corrupt(&path, offset));
                    }
                    let chunk = Chunk::decode(&payload, record.first).ok_or_else(|| corrupt(&path, offset))?;
                    bytes += payload.len();
                    next = record.end();
                    chunks.push(Arc::new(chunk));
                }
                offset += record.size();
                hint.at = Some((first, file.clone(), offset, record.end()));
            }
            if offset >= len && next < until {
                // On to the next segment, unless this one is still being written.
                let segments = self.segments();
                if segments.last().is_none_or(|s| s.first == first) {
                    break;
                }
                next = next.max(segments.iter().find(|s| s.first > first).map_or(next, |s| s.first));
            }
        }
        Ok(chunks)
    }
}

fn corrupt(path: &Path, offset: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!(
            "the record at byte {offset} of {} changed on disk after it was written (its CRC no longer holds)",
            path.display()
        ),
    )
}

/// The segment files in `dir`, sorted by first sequence number; temporary files of an
/// interrupted repair are removed.
fn segment_files(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        if name.ends_with(".tmp") {
            fs::remove_file(&path)?;
        } else if let Some(first) = name.strip_suffix(".seg").and_then(|n| n.parse::<u64>().ok()) {
            paths.push((first, path));
        }
    }
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests;
