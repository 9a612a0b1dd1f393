//! The ledger: where each consumer stands (the first event it has not acknowledged), by
//! name, and the next sequence number, so numbers keep increasing even when every segment
//! was deleted.
//!
//! One file with two fixed slots, written in turn in place: each write goes to the slot
//! not holding the newest ledger, with a generation number and a CRC32C, then one
//! `fdatasync`. A crash mid-write spoils only that slot, and the other still holds the
//! previous ledger. Writing in place, rather than a new file renamed over the old, needs
//! no new inode and no folder fsync per write: that took 5 to 8 ms a time on the writer
//! thread, where it delays commits.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const FILE: &str = "ledger";
/// Each slot's size: room for tens of thousands of consumers.
const SLOT: u64 = 1 << 20;
/// Magic "EVLG", generation (u64), payload length (u32), CRC32C of the generation, the
/// length and the payload (u32).
const HEADER: usize = 20;
const MAGIC: &[u8; 4] = b"EVLG";

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// The sequence number the next event gets.
    pub head: u64,
    /// Each consumer's first unacknowledged event.
    pub consumers: BTreeMap<String, u64>,
}

/// Why the ledger could not be read; the log starts anyway (see `Disk::open`).
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {reason}")]
pub struct Unreadable {
    path: PathBuf,
    reason: String,
}

impl Ledger {
    /// The newest whole ledger in `dir` and its generation: empty (generation 0) when
    /// there is none yet.
    pub fn read(dir: &Path) -> Result<(Ledger, u64), Unreadable> {
        let path = dir.join(FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Ledger::default(), 0)),
            Err(e) => return Err(Unreadable { path, reason: e.to_string() }),
        };
        let newest = [0, SLOT as usize]
            .into_iter()
            .filter_map(|at| slot(bytes.get(at..)?))
            .max_by_key(|(_, generation)| *generation);
        match newest {
            Some(found) => Ok(found),
            None if bytes.iter().all(|&b| b == 0) => Ok((Ledger::default(), 0)),
            None => Err(Unreadable { path, reason: "neither of its two slots holds a whole ledger".into() }),
        }
    }
}

/// The ledger in a slot, if it is whole and its CRC holds.
fn slot(bytes: &[u8]) -> Option<(Ledger, u64)> {
    let header = bytes.get(..HEADER)?;
    if &header[..4] != MAGIC {
        return None;
    }
    let generation = u64::from_le_bytes(header[4..12].try_into().ok()?);
    let len = u32::from_le_bytes(header[12..16].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[16..20].try_into().ok()?);
    let payload = bytes.get(HEADER..HEADER + len)?;
    let computed = crc32c::crc32c_append(crc32c::crc32c(&header[4..16]), payload);
    if computed != crc {
        return None;
    }
    Some((serde_json::from_slice(payload).ok()?, generation))
}

/// Writes ledgers to the file in turn.
pub struct LedgerWriter {
    file: File,
    generation: u64,
}

impl LedgerWriter {
    /// Opens (or creates, durably) the ledger file of `dir`, whose newest ledger has
    /// `generation`.
    pub fn open(dir: &Path, generation: u64) -> std::io::Result<LedgerWriter> {
        let path = dir.join(FILE);
        let existed = path.exists();
        let file = OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path)?;
        if !existed {
            file.sync_all()?;
            sync_dir(dir)?;
        }
        Ok(LedgerWriter { file, generation })
    }

    /// Writes `ledger` to the older slot; with `durable`, it is on disk when this returns.
    pub fn write(&mut self, ledger: &Ledger, durable: bool) -> std::io::Result<()> {
        let payload = serde_json::to_vec(ledger).expect("a ledger serializes");
        if (HEADER + payload.len()) as u64 > SLOT {
            return Err(std::io::Error::other(format!(
                "the ledger of {} consumers takes {} bytes, more than its slot of {SLOT}",
                ledger.consumers.len(),
                payload.len()
            )));
        }
        let generation = self.generation + 1;
        let mut bytes = Vec::with_capacity(HEADER + payload.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&generation.to_le_bytes());
        bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        let crc = crc32c::crc32c_append(crc32c::crc32c(&bytes[4..16]), &payload);
        bytes.extend_from_slice(&crc.to_le_bytes());
        bytes.extend_from_slice(&payload);
        self.file.write_all_at(&bytes, (generation % 2) * SLOT)?;
        if durable {
            self.file.sync_data()?;
        }
        self.generation = generation;
        Ok(())
    }
}

/// Makes the folder's entries (a new, renamed or removed file) durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_whole_slot_wins_and_a_torn_one_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Ledger::read(dir.path()).unwrap(), (Ledger::default(), 0));
        let mut writer = LedgerWriter::open(dir.path(), 0).unwrap();
        let first = Ledger { head: 10, consumers: [("audit".to_string(), 7)].into() };
        let second = Ledger { head: 20, consumers: [("audit".to_string(), 15)].into() };
        writer.write(&first, true).unwrap();
        writer.write(&second, true).unwrap();
        assert_eq!(Ledger::read(dir.path()).unwrap(), (second, 2));
        // A crash in the middle of the next write (to slot 1, holding `first`) leaves `second`.
        let file = OpenOptions::new().write(true).open(dir.path().join(FILE)).unwrap();
        file.write_all_at(b"EVLG\x03\0\0\0\0\0\0\0garbage", SLOT).unwrap();
        assert_eq!(Ledger::read(dir.path()).unwrap().0.head, 20);
        // Reopened, it goes on from the newest generation.
        let mut writer = LedgerWriter::open(dir.path(), 2).unwrap();
        writer.write(&first, true).unwrap();
        assert_eq!(Ledger::read(dir.path()).unwrap(), (first, 3));
        // Both slots spoilt: said, never guessed.
        file.write_all_at(b"XXXX", 0).unwrap();
        file.write_all_at(b"XXXX", SLOT).unwrap();
        let error = Ledger::read(dir.path()).unwrap_err().to_string();
        assert!(error.contains("neither of its two slots"), "{error}");
    }
}
