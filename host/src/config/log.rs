//! The `[log]` table: the memory log (the default), or the disk log and how durable it is.

use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use super::model::LogSection;
use super::{Validator, DEFAULT_CAPACITY, DEFAULT_MAX_BYTES};
use crate::diagnostic::Diagnostic;

#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// Events the log holds in memory.
    pub capacity: usize,
    /// Bytes of event payload (all attributes and data) the log holds in memory.
    pub max_bytes: usize,
    /// Set for `kind = "disk"`.
    pub disk: Option<DiskConfig>,
}

impl LogConfig {
    /// A memory log of these limits.
    pub fn memory(capacity: usize, max_bytes: usize) -> Self {
        LogConfig { capacity, max_bytes, disk: None }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DiskConfig {
    /// The log's folder, resolved against the config file's folder.
    pub path: PathBuf,
    pub fsync: Fsync,
    /// A segment file is closed and a new one begun past this size.
    pub segment_bytes: u64,
    /// The segments on disk stay within this.
    pub max_bytes: u64,
}

/// When the disk log's writes are made durable, and so when events count as committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// Each group of batches is fsynced before it is committed.
    Commit,
    /// Committed once written; fsynced at most this long after.
    Interval(Duration),
    /// Committed once written; the OS writes it back when it likes.
    Never,
}

pub const DEFAULT_DISK_BYTES: u64 = 1 << 30;
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;
/// So small a log can still be tried; real ones use megabytes.
const MIN_SEGMENT_BYTES: u64 = 4096;
pub const DEFAULT_FSYNC_INTERVAL: Duration = Duration::from_millis(100);

impl Validator {
    pub(super) fn log(&self, raw: &LogSection, max_event_bytes: usize) -> Result<LogConfig, Diagnostic> {
        let capacity = match &raw.capacity {
            Some(v) if *v.get_ref() < 1 || *v.get_ref() > (1 << 30) => {
                return Err(self.error(
                    v,
                    "invalid log `capacity`",
                    "give a number of events from 1 to 1073741824, e.g. 65536",
                ))
            }
            Some(v) => *v.get_ref() as usize,
            None => DEFAULT_CAPACITY,
        };
        let max_bytes = match &raw.max_bytes {
            Some(v) => Some(v.get_ref().bytes().map_err(|e| self.error(v, "invalid log `max_bytes`", e.to_string()))?),
            None => None,
        };
        let disk = match raw.kind.as_ref().map(|k| k.get_ref().as_str()) {
            None | Some("memory") => {
                let disk_only = [
                    raw.path.as_ref().map(|v| ("path", v.span())),
                    raw.fsync.as_ref().map(|v| ("fsync", v.span())),
                    raw.fsync_interval.as_ref().map(|v| ("fsync_interval", v.span())),
                    raw.segment_bytes.as_ref().map(|v| ("segment_bytes", v.span())),
                ];
                if let Some((key, span)) = disk_only.into_iter().flatten().next() {
                    return Err(Diagnostic::new(format!("`{key}` applies to the disk log only"))
                        .at(Some(self.location(span)))
                        .help(format!("add kind = \"disk\" to [log] to keep events on disk, or remove `{key}`")));
                }
                None
            }
            Some("disk") => Some(self.disk(raw, max_bytes, max_event_bytes)?),
            Some(other) => {
                let kind = raw.kind.as_ref().expect("matched");
                return Err(self.error(
                    kind,
                    format!("unknown log kind `{other}`"),
                    "use kind = \"memory\" (the default: fast, lost with the process) or kind = \"disk\" (survives crashes and restarts)",
                ));
            }
        };
        // The disk log keeps its recent events in memory too, within the memory log's default
        // and half its disk budget, so that a batch held in memory always fits on disk.
        let in_memory = match (&disk, max_bytes) {
            (Some(disk), _) => (DEFAULT_MAX_BYTES as u64).min(disk.max_bytes / 2),
            (None, Some(bytes)) => bytes,
            (None, None) => DEFAULT_MAX_BYTES.max(max_event_bytes) as u64,
        };
        if in_memory < max_event_bytes as u64 {
            let v = raw.max_bytes.as_ref().expect("only an explicit max_bytes can be this small");
            return Err(self.error(
                v,
                "log `max_bytes` is smaller than the largest event",
                format!("raise it to at least {max_event_bytes} bytes or lower host.max_event_bytes"),
            ));
        }
        Ok(LogConfig { capacity, max_bytes: in_memory as usize, disk })
    }

    fn disk(&self, raw: &LogSection, max_bytes: Option<u64>, max_event_bytes: usize) -> Result<DiskConfig, Diagnostic> {
        let kind = raw.kind.as_ref().expect("a disk log has a kind");
        let path = match &raw.path {
            Some(p) if p.get_ref().is_empty() => {
                return Err(self.error(
                    p,
                    "empty log `path`",
                    "give the folder for the log's files, e.g. path = \"evhost-log\"",
                ))
            }
            Some(p) => self.base.join(p.get_ref()),
            None => {
                return Err(self.error(
                    kind,
                    "a disk log needs a `path`",
                    "add path = \"evhost-log\" to [log]: the folder for the log's files, relative to this file",
                ))
            }
        };
        let fsync = match raw.fsync.as_ref().map(|f| f.get_ref().as_str()) {
            None | Some("commit") => Fsync::Commit,
            Some("interval") => Fsync::Interval(match &raw.fsync_interval {
                Some(v) => match v.get_ref().get().map_err(|e| self.error(v, "invalid `fsync_interval`", e.to_string()))? {
                    zero if zero.is_zero() => {
                        return Err(self.error(
                            v,
                            "`fsync_interval` must be above zero",
                            "give the longest time a write may wait for its fsync, e.g. fsync_interval = \"100ms\", or use fsync = \"commit\"",
                        ))
                    }
                    interval => interval,
                },
                None => DEFAULT_FSYNC_INTERVAL,
            }),
            Some("never") => Fsync::Never,
            Some(other) => {
                return Err(self.error(
                    raw.fsync.as_ref().expect("matched"),
                    format!("unknown fsync policy `{other}`"),
                    "use fsync = \"commit\" (fsync before events count as committed), \"interval\" (with fsync_interval) or \"never\" (the OS decides)",
                ))
            }
        };
        if let (Some(v), false) = (&raw.fsync_interval, matches!(fsync, Fsync::Interval(_))) {
            return Err(self.error(
                v,
                "`fsync_interval` applies to fsync = \"interval\" only",
                "add fsync = \"interval\", or remove `fsync_interval`",
            ));
        }
        let max_bytes = max_bytes.unwrap_or(DEFAULT_DISK_BYTES);
        if max_bytes < 4 * MIN_SEGMENT_BYTES || max_bytes < 2 * max_event_bytes as u64 {
            let at = raw.max_bytes.as_ref().map_or(kind.span(), Spanned::span);
            return Err(Diagnostic::new("the disk log's `max_bytes` is too small").at(Some(self.location(at))).help(
                format!("give [log] max_bytes of at least {} bytes: twice the largest event (host.max_event_bytes) and room for four segments", (2 * max_event_bytes as u64).max(4 * MIN_SEGMENT_BYTES)),
            ));
        }
        let segment_bytes = match &raw.segment_bytes {
            Some(v) => {
                let bytes = v.get_ref().bytes().map_err(|e| self.error(v, "invalid `segment_bytes`", e.to_string()))?;
                if bytes < MIN_SEGMENT_BYTES || bytes > max_bytes / 4 {
                    return Err(self.error(
                        v,
                        "`segment_bytes` is out of range",
                        format!("give from {MIN_SEGMENT_BYTES} bytes to a quarter of the log's max_bytes ({} bytes), so that old segments can be deleted while new ones are written", max_bytes / 4),
                    ));
                }
                bytes
            }
            None => DEFAULT_SEGMENT_BYTES.min(max_bytes / 4).max(MIN_SEGMENT_BYTES),
        };
        Ok(DiskConfig { path, fsync, segment_bytes, max_bytes })
    }
}
