//! The ledger: where each consumer stands (the first event it has not acknowledged), by
//! name, and the next sequence number, so numbers keep increasing even when every segment
//! was deleted. One small JSON file, replaced atomically (write a temporary file, fsync,
//! rename, fsync the folder): after a crash it is the old one or the new one, never a mix.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const FILE: &str = "ledger.json";

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// The sequence number the next event gets.
    pub head: u64,
    /// Each consumer's first unacknowledged event.
    pub consumers: BTreeMap<String, u64>,
}

/// Why the ledger could not be read; the log starts anyway (see `read`).
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {reason}")]
pub struct Unreadable {
    path: PathBuf,
    reason: String,
}

impl Ledger {
    /// The ledger in `dir`: empty when there is none yet.
    pub fn read(dir: &Path) -> Result<Ledger, Unreadable> {
        let path = dir.join(FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| Unreadable { path, reason: format!("it is not a ledger ({e})") }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ledger::default()),
            Err(e) => Err(Unreadable { path, reason: e.to_string() }),
        }
    }

    /// Replaces the ledger in `dir`; with `durable`, it is on disk when this returns.
    pub fn write(&self, dir: &Path, durable: bool) -> std::io::Result<()> {
        let temporary = dir.join(format!("{FILE}.tmp"));
        let mut file = File::create(&temporary)?;
        file.write_all(&serde_json::to_vec(self).expect("a ledger serializes"))?;
        if durable {
            file.sync_data()?;
        }
        fs::rename(&temporary, dir.join(FILE))?;
        if durable {
            sync_dir(dir)?;
        }
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
    fn a_ledger_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Ledger::read(dir.path()).unwrap(), Ledger::default());
        let ledger = Ledger { head: 10, consumers: [("audit".to_string(), 7)].into() };
        ledger.write(dir.path(), true).unwrap();
        assert_eq!(Ledger::read(dir.path()).unwrap(), ledger);
        fs::write(dir.path().join(FILE), b"{\"head\": 1").unwrap();
        let error = Ledger::read(dir.path()).unwrap_err().to_string();
        assert!(error.contains("it is not a ledger"), "{error}");
    }
}
