//! Recovery: reads every segment at start, keeps what is whole, and says what it was not.
//! A record cut short at the end of the last segment (a crash mid-write) is cut off with a
//! WARN. A record whose bytes fail their CRC anywhere else is moved to a quarantine file
//! next to the log, with the sequence numbers it held, and never delivered. The host never
//! refuses to start over what it found.

use std::fs;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::ledger::sync_dir;
use super::record::{Header, HEADER};
use super::Segment;

pub const QUARANTINE: &str = "quarantine";

/// A part of a segment that is not a whole record.
struct Damage {
    bytes: Range<usize>,
    /// The sequence numbers it held, as far as they can be told.
    seqs: Range<u64>,
}

/// Recovers the segments in `dir` (their paths, sorted by first sequence number), fixing
/// the files so that each holds only whole records.
pub fn recover(dir: &Path, paths: Vec<(u64, PathBuf)>) -> std::io::Result<Vec<Segment>> {
    let mut segments = Vec::with_capacity(paths.len());
    let last = paths.len().saturating_sub(1);
    let mut expected = 0;
    for (index, (first, path)) in paths.iter().enumerate() {
        let bytes = fs::read(path)?;
        let next_first = paths.get(index + 1).map_or(u64::MAX, |(f, _)| *f);
        expected = expected.max(*first);
        let mut segment = Segment::new(*first, path.clone());
        let mut damage = Vec::new();
        let mut offset = 0;
        // Bytes cut so far: the records after them move forward by that much.
        let mut cut = 0;
        while offset < bytes.len() {
            match whole_record(&bytes[offset..], expected) {
                Some(header) => {
                    segment.add(header, (offset - cut) as u64);
                    expected = header.end();
                    offset += header.size() as usize;
                }
                None => {
                    let (skip, seqs) = match next_record(&bytes, offset, expected) {
                        Some((at, header)) => (at, expected..header.first),
                        None => (bytes.len(), expected..if index == last { expected } else { next_first }),
                    };
                    // A header that is whole and true tells which events its payload held.
                    let seqs = match Header::parse(&bytes[offset..]) {
                        Some(h) if offset + h.size() as usize <= skip && h.first >= expected => {
                            h.first.min(seqs.start)..h.end().max(seqs.end)
                        }
                        _ => seqs,
                    };
                    expected = expected.max(seqs.end);
                    damage.push(Damage { bytes: offset..skip, seqs });
                    cut += skip - offset;
                    offset = skip;
                }
            }
        }
        if !damage.is_empty() {
            repair(dir, path, &bytes, &damage, index == last)?;
        }
        if segment.len == 0 {
            fs::remove_file(path)?;
        } else {
            segments.push(segment);
        }
    }
    Ok(segments)
}

/// The header of the record at the start of `bytes`, if the record is whole, its CRCs hold
/// and it follows what came before.
fn whole_record(bytes: &[u8], expected: u64) -> Option<Header> {
    let header = Header::parse(bytes)?;
    let payload = bytes.get(HEADER..header.size() as usize)?;
    (header.holds(payload) && header.first >= expected).then_some(header)
}

/// The next whole record after a damaged one at `from`, searched byte by byte.
fn next_record(bytes: &[u8], from: usize, expected: u64) -> Option<(usize, Header)> {
    (from + 1..bytes.len().saturating_sub(HEADER - 1))
        .filter(|&at| bytes[at..].starts_with(b"EVL1"))
        .find_map(|at| whole_record(&bytes[at..], expected).map(|h| (at, h)))
}

/// Cuts the damage out of a segment: a torn end is cut off; anything else is copied to the
/// quarantine folder first, and the segment rewritten without it.
fn repair(dir: &Path, path: &Path, bytes: &[u8], damage: &[Damage], last: bool) -> std::io::Result<()> {
    let name = path.display();
    for (index, hurt) in damage.iter().enumerate() {
        let torn = last && index == damage.len() - 1 && hurt.bytes.end == bytes.len() && hurt.seqs.is_empty();
        let cut = hurt.bytes.len();
        if torn {
            tracing::warn!("log recovery: cut a torn record of {cut} bytes at the end of {name}");
        } else if hurt.seqs.is_empty() {
            tracing::warn!(
                "log recovery: cut {cut} damaged bytes at byte {} of {name}; they held no events",
                hurt.bytes.start
            );
        } else {
            let folder = dir.join(QUARANTINE);
            fs::create_dir_all(&folder)?;
            let (first, last) = (hurt.seqs.start, hurt.seqs.end - 1);
            let target = folder.join(format!("{first:020}-{last:020}.bin"));
            let mut file = fs::File::create(&target)?;
            file.write_all(&bytes[hurt.bytes.clone()])?;
            file.sync_all()?;
            sync_dir(&folder)?;
            tracing::error!(
                "log recovery: corrupt record in {name} at byte {}: events {first} to {last} moved to {}; they will not be delivered",
                hurt.bytes.start,
                target.display()
            );
        }
    }
    let mut kept = Vec::with_capacity(bytes.len());
    let mut from = 0;
    for hurt in damage {
        kept.extend_from_slice(&bytes[from..hurt.bytes.start]);
        from = hurt.bytes.end;
    }
    kept.extend_from_slice(&bytes[from..]);
    let temporary = path.with_extension("seg.tmp");
    let mut file = fs::File::create(&temporary)?;
    file.write_all(&kept)?;
    file.sync_all()?;
    fs::rename(&temporary, path)?;
    sync_dir(dir)
}
