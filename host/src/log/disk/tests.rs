//! Recovery of damaged segments, and reading back, on real files.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::config::Fsync;
use crate::log::{ChunkBuilder, EventIn};

fn config(dir: &Path) -> DiskConfig {
    DiskConfig { path: dir.to_path_buf(), fsync: Fsync::Commit, segment_bytes: 1 << 20, max_bytes: 1 << 30 }
}

fn chunk(first: u64, n: u64) -> Arc<Chunk> {
    let mut builder = ChunkBuilder::with_capacity(n as usize, 0, 0);
    for seq in first..first + n {
        let id = seq.to_string();
        builder.push_event(&EventIn { id: &id, source: "/t", ty: "t", data: b"data", ..EventIn::default() });
    }
    let mut chunk = builder.finish();
    chunk.number(first);
    Arc::new(chunk)
}

/// Writes records of 10 events each, numbered from 1, into one segment.
fn write_records(dir: &Path, records: u64) {
    let opened = Disk::open(&config(dir)).unwrap();
    let mut writer = Writer::new(&opened.disk, opened.head).unwrap();
    let chunks: Vec<_> = (0..records).map(|r| chunk(1 + r * 10, 10)).collect();
    writer.write(&opened.disk, &chunks).unwrap();
    writer.sync().unwrap();
}

/// Every id the log holds, read back as a consumer would.
fn ids(disk: &Disk) -> Vec<u64> {
    let mut hint = ReadHint::default();
    disk.read(1, u64::MAX, usize::MAX, &mut hint)
        .unwrap()
        .iter()
        .flat_map(|c| c.refs(c.first_seq..c.end_seq()).map(|e| e.id().parse().unwrap()).collect::<Vec<u64>>())
        .collect()
}

fn segment(dir: &Path) -> std::path::PathBuf {
    dir.join(Segment::name(1))
}

/// Where each record of a segment starts and ends.
fn records(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(header) = record::Header::parse(&bytes[at..]) {
        out.push(at..at + header.size() as usize);
        at += header.size() as usize;
    }
    out
}

#[test]
fn a_clean_log_comes_back_whole_and_numbers_on() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), 5);
    let opened = Disk::open(&config(dir.path())).unwrap();
    assert_eq!((opened.tail, opened.head), (1, 51));
    assert_eq!(ids(&opened.disk), (0..50).map(|i| i + 1).collect::<Vec<_>>());
}

#[test]
fn a_torn_tail_is_cut_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), 5);
    let bounds = records(&fs::read(segment(dir.path())).unwrap());
    let size = bounds[4].end as u64;
    fs::OpenOptions::new().write(true).open(segment(dir.path())).unwrap().set_len(size - 7).unwrap();
    let opened = Disk::open(&config(dir.path())).unwrap();
    assert_eq!(opened.head, 41, "the torn record's events were never whole");
    assert_eq!(ids(&opened.disk).len(), 40);
    assert_eq!(
        fs::metadata(segment(dir.path())).unwrap().len(),
        bounds[3].end as u64,
        "cut back to the last whole record"
    );
    assert!(!dir.path().join(recovery::QUARANTINE).exists());
}

#[test]
fn a_flipped_byte_quarantines_exactly_its_record() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), 5);
    let path = segment(dir.path());
    let mut bytes = fs::read(&path).unwrap();
    let third = records(&bytes)[2].clone();
    bytes[third.start + third.len() / 2] ^= 0x10;
    fs::write(&path, &bytes).unwrap();
    let opened = Disk::open(&config(dir.path())).unwrap();
    assert_eq!(opened.head, 51);
    let expected: Vec<u64> = (1..=20).chain(31..=50).collect();
    assert_eq!(ids(&opened.disk), expected, "events 21 to 30 are out, the rest are read back");
    let quarantined = dir.path().join(recovery::QUARANTINE).join(format!("{:020}-{:020}.bin", 21, 30));
    assert!(fs::read(quarantined).unwrap() == bytes[third], "the damaged record, byte for byte");
    // Recovered once: a second start finds nothing to repair.
    drop(opened);
    assert_eq!(ids(&Disk::open(&config(dir.path())).unwrap().disk), expected);
}

#[test]
fn a_damaged_header_quarantines_up_to_the_next_whole_record() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), 5);
    let path = segment(dir.path());
    let mut bytes = fs::read(&path).unwrap();
    let second = records(&bytes)[1].start;
    bytes[second + 9] ^= 0xff; // inside the second record's first sequence number
    fs::write(&path, &bytes).unwrap();
    let opened = Disk::open(&config(dir.path())).unwrap();
    let expected: Vec<u64> = (1..=10).chain(21..=50).collect();
    assert_eq!(ids(&opened.disk), expected);
    assert!(dir.path().join(recovery::QUARANTINE).join(format!("{:020}-{:020}.bin", 11, 20)).is_file());
}

#[test]
fn a_second_host_on_the_same_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Disk::open(&config(dir.path())).unwrap();
    assert!(matches!(Disk::open(&config(dir.path())), Err(OpenError::InUse { .. })));
}
