//! Writing: appends records to the newest segment and starts a new one past
//! `segment_bytes`. Only the log's writer thread uses it. A failed write is undone (the file
//! cut back to its last whole record), so a full disk or an I/O error leaves no partial
//! record behind, and the same batches can be written again later.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use super::ledger::sync_dir;
use super::record::{self, Header};
use super::{Disk, Segment};
use crate::config::Fsync;
use crate::log::Chunk;

pub struct Writer {
    /// The newest segment's file and its length.
    file: File,
    len: u64,
    buffer: Vec<u8>,
    /// Bytes written since the last fsync.
    unsynced: bool,
}

impl Writer {
    /// Starts a new segment for events from `head` on.
    pub fn new(disk: &Disk, head: u64) -> std::io::Result<Writer> {
        let file = Self::create(disk, head)?;
        Ok(Writer { file, len: 0, buffer: Vec::new(), unsynced: false })
    }

    fn create(disk: &Disk, first: u64) -> std::io::Result<File> {
        let path = disk.dir.join(Segment::name(first));
        let file = OpenOptions::new().create(true).truncate(true).write(true).open(&path)?;
        if disk.config.fsync != Fsync::Never {
            sync_dir(&disk.dir)?;
        }
        disk.segments().push(Segment::new(first, path));
        Ok(file)
    }

    /// The bytes `chunk` takes on disk.
    pub fn size(chunk: &Chunk) -> u64 {
        record::HEADER as u64 + chunk.encoded_len() as u64
    }

    /// Appends the chunks as records. On an error, the first chunks it names were written
    /// whole, and nothing of the others is on disk.
    pub fn write(&mut self, disk: &Disk, chunks: &[Arc<Chunk>]) -> Result<(), (usize, std::io::Error)> {
        let mut at = 0;
        while at < chunks.len() {
            if self.len >= disk.config.segment_bytes {
                self.roll(disk, chunks[at].first_seq).map_err(|e| (at, e))?;
            }
            let first = at;
            // The records that fit this segment (at least one), in one write.
            self.buffer.clear();
            let mut headers = Vec::new();
            while at < chunks.len()
                && (headers.is_empty() || self.len + (self.buffer.len() as u64) < disk.config.segment_bytes)
            {
                let chunk = &chunks[at];
                let offset = self.buffer.len();
                record::write(&mut self.buffer, chunk.first_seq, chunk.len() as u32, |out| chunk.encode(out));
                headers.push((Header::parse(&self.buffer[offset..]).expect("just written"), self.len + offset as u64));
                at += 1;
            }
            // At an explicit offset: after a failed write the file is cut back, and the next
            // write must land where it was cut, whatever the file position says.
            if let Err(e) = self.file.write_all_at(&self.buffer, self.len) {
                // Cut the partial record off; if even that fails, the next start cuts it.
                let _ = self.file.set_len(self.len);
                return Err((first, e));
            }
            self.unsynced = true;
            self.len += self.buffer.len() as u64;
            let mut segments = disk.segments();
            let segment = segments.last_mut().expect("the writer's segment");
            for (header, offset) in headers {
                segment.add(header, offset);
            }
        }
        Ok(())
    }

    /// Makes what was written durable.
    pub fn sync(&mut self) -> std::io::Result<()> {
        if self.unsynced {
            self.file.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Starts a new segment at `first` unless the newest is still empty.
    pub fn roll_if_used(&mut self, disk: &Disk, first: u64) -> std::io::Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        self.roll(disk, first)
    }

    /// Closes the newest segment (durable first, unless fsync is "never") and starts one at
    /// `first`.
    fn roll(&mut self, disk: &Disk, first: u64) -> std::io::Result<()> {
        if disk.config.fsync != Fsync::Never {
            self.sync()?;
        }
        self.file = Self::create(disk, first)?;
        self.len = 0;
        self.unsynced = false;
        Ok(())
    }
}
