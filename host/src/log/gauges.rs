//! What the log holds right now, read for the admin endpoint's gauges: one short look under
//! the lock per scrape, nothing on the append or read path.

use super::Log;

/// The log's levels at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gauges {
    /// Events held in memory, and their payload bytes.
    pub events: u64,
    pub bytes: u64,
    /// The limits of both ([log] capacity and the memory's max_bytes).
    pub capacity: u64,
    pub max_bytes: u64,
    /// Producers waiting for room (`block` backpressure).
    pub producers_waiting: u64,
    /// The sequence number the next event gets.
    pub head: u64,
    /// The disk log's files.
    pub disk: Option<DiskGauges>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskGauges {
    pub segments: u64,
    /// Bytes of records in the segments, and the budget for them ([log] max_bytes).
    pub bytes: u64,
    pub max_bytes: u64,
}

impl Log {
    pub fn gauges(&self) -> Gauges {
        let state = self.lock();
        let gauges = Gauges {
            events: state.chunks.front().map_or(0, |c| state.head - c.first_seq),
            bytes: state.bytes as u64,
            capacity: self.capacity as u64,
            max_bytes: self.max_bytes as u64,
            producers_waiting: state.waiting_producers as u64,
            head: state.head,
            disk: None,
        };
        drop(state);
        // The segments have a lock of their own; never taken inside the log's.
        let disk = self.disk.as_ref().map(|disk| DiskGauges {
            segments: disk.segment_count() as u64,
            bytes: disk.bytes(),
            max_bytes: disk.config.max_bytes,
        });
        Gauges { disk, ..gauges }
    }
}
