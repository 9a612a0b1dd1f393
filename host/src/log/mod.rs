//! The ingest log: one ordered, bounded sequence of events with one cursor per consumer.
//!
//! Producers append whole batches ([`Chunk`]s, copied once at emit). Each consumer reads
//! batches from its own cursor, straight out of the shared chunks, and commits after its
//! plugin returned; a slow consumer holds back only itself until the log is full. Then its
//! policy decides: `block` makes producers wait, `drop_oldest` moves that consumer's cursor
//! past the oldest chunks (counted). Memory stays within `capacity` events and `max_bytes`,
//! plus the batches consumers hold in flight (kept alive by their `Arc`).
//!
//! Waiting is spin-then-park: a thread that finds nothing to do spins for a few
//! microseconds (measured in time) watching an atomic, then sleeps on a condition variable;
//! the other side notifies only when someone sleeps. An idle host uses no CPU.
//!
//! Hand-written rather than built from channels: one log shared by all consumers is what
//! makes delivery copy-free (see docs/decisions.md).
//!
//! The disk log (`kind = "disk"`) is the same log with its chunks also written to segment
//! files by a writer thread (`persist`), which commits them in groups: consumers read only
//! committed events, and chunks leave memory once written, so a consumer far behind reads
//! from disk (`disk`) while memory stays bounded.

mod chunk;
mod disk;
mod gauges;
mod persist;

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[cfg(test)]
pub use chunk::EventIn;
pub use chunk::{empty_event, set_strings, strings, Chunk, ChunkBuilder, EventRef, CLAIM_ALIGN, STRING_NAMES};
use evhost_abi::evh_event;

use crate::config::{LogConfig, Policy, Start};
use crate::diagnostic::counted;
use crate::stats::Histogram;
pub use disk::OpenError;
use disk::{Disk, ReadHint};
pub use gauges::{DiskGauges, Gauges};

/// A consumer's handle on the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerId(usize);

/// Why an append was refused. Nothing of the batch was taken.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    #[error("the log is full")]
    Full,
    #[error("the host is stopping and accepts no more events")]
    Stopped,
    #[error("a batch of {} and {} can never fit the log ({}, {}); emit smaller batches or raise [log] capacity / max_bytes", counted(*events, "event"), counted(*bytes, "byte"), counted(*capacity, "event"), counted(*max_bytes, "byte"))]
    TooLarge { events: usize, bytes: usize, capacity: usize, max_bytes: usize },
}

/// Whether a batch of `events` and `bytes` can ever fit a log of these `limits` (its
/// capacity and max_bytes); also asked in an isolated producer's worker, which has none.
pub fn fits(events: usize, bytes: usize, (capacity, max_bytes): (usize, usize)) -> Result<(), AppendError> {
    if events > capacity || bytes > max_bytes {
        return Err(AppendError::TooLarge { events, bytes, capacity, max_bytes });
    }
    Ok(())
}

/// How long a delivery thread waiting for events spins before it parks: long enough to
/// catch the next batch of a busy producer, short enough to cost nothing when the host goes
/// idle. (A producer waiting for room parks at once: see `room_wanted`.)
const SPIN: Duration = Duration::from_micros(50);

/// Now, in milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// About how many bytes of records one read from disk takes in.
const READ_BYTES: usize = 4 << 20;

pub struct Log {
    state: Mutex<State>,
    /// `State::readable`, published for spinning readers.
    readable: AtomicU64,
    /// `State::nudges`, published for spinning readers.
    nudges: AtomicU64,
    /// Every event with a sequence number up to this one is committed: accepted (memory
    /// log) or written as the fsync policy says (disk log). 0 when none is.
    committed: AtomicU64,
    /// Producers waiting for their events to be committed wait here.
    commit: Condvar,
    /// `closed || stopped`, published for spinning readers.
    ended: AtomicBool,
    /// Producers wait here for room.
    room: Condvar,
    /// Consumers wait here for events.
    data: Condvar,
    /// The disk log's writer thread waits here for work.
    work: Condvar,
    capacity: usize,
    max_bytes: usize,
    disk: Option<Disk>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// How long the disk log's fsyncs took (observed by its writer thread).
    pub fsync: Histogram,
}

struct State {
    /// The most recent chunks; for the disk log, the ones not yet written and as many
    /// written ones as fit.
    chunks: VecDeque<Arc<Chunk>>,
    /// The sequence number the next event gets; the first is 1.
    head: u64,
    /// Events before this are committed, and consumers may read them.
    readable: u64,
    /// Events before this are written to disk (the memory log: `head`).
    written: u64,
    /// The oldest sequence number still in the log (in memory or on disk).
    tail: u64,
    bytes: usize,
    cursors: Vec<Cursor>,
    /// No more appends; consumers drain and then see the end.
    closed: bool,
    /// Appends fail at once and waiting producers give up (shutdown past its deadline).
    stopped: bool,
    waiting_producers: usize,
    /// The lowest `floor` a producer waiting for room waits for (u64::MAX: none waits).
    room_wanted: u64,
    waiting_consumers: usize,
    waiting_for_commit: usize,
    /// The disk log's writer thread.
    writer: WriterState,
    /// Consumers acknowledged events since the ledger was last written.
    ledger_dirty: bool,
    /// Where the consumers the ledger knows stood, until they join.
    resume: BTreeMap<String, u64>,
    /// Why the disk log failed, if it did.
    failure: Option<String>,
    /// Counts the times a cursor was told to end early (a reload), so that a reader parked
    /// in [`Log::wait`] takes another look.
    nudges: u64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum WriterState {
    #[default]
    Working,
    /// Waiting for events or a timer.
    Waiting { timed: bool },
    /// Asked to write what is left, then end.
    ShuttingDown,
}

struct Cursor {
    name: String,
    /// The first event not yet committed.
    next: u64,
    /// The end of the batch the consumer holds (`next` when it holds none): events before
    /// it are being delivered, never counted as dropped.
    reading: u64,
    policy: Policy,
    dropped: u64,
    /// Set when the consumer is retired by a reload: it reads `End` once here.
    until: Option<u64>,
    /// The consumer left (a reload removed or replaced it): it holds nothing back, and the
    /// disk log's ledger no longer names it.
    left: bool,
}

impl Cursor {
    fn new(name: &str, next: u64, policy: Policy) -> Cursor {
        Cursor { name: name.to_string(), next, reading: next, policy, dropped: 0, until: None, left: false }
    }
}

/// Where a reader stood when it last found work; see [`Log::seen`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    readable: u64,
    nudges: u64,
}

/// A batch handed to one consumer: views into shared chunks, kept alive while it is held.
#[derive(Default)]
pub struct Batch {
    chunks: Vec<Arc<Chunk>>,
    events: Vec<*const evh_event>,
    first_seq: u64,
    /// Where this consumer's last read from disk ended.
    hint: ReadHint,
}

impl Batch {
    /// Pointers to the batch's events, in log order, as `on_events` takes them.
    pub fn events(&self) -> &[*const evh_event] {
        &self.events
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The sequence number of the first event.
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// The events `from..` of the batch.
    pub fn iter_from(&self, from: usize) -> impl Iterator<Item = EventRef<'_>> {
        let seqs = self.first_seq + from as u64..self.first_seq + self.events.len() as u64;
        self.chunks.iter().flat_map(move |c| {
            let start = seqs.start.max(c.first_seq);
            c.refs(start..seqs.end.min(c.end_seq()).max(start))
        })
    }

    fn clear(&mut self) {
        self.chunks.clear();
        self.events.clear();
    }

    /// Points at the events `start..end` of the chunks it holds. Outside the log's lock:
    /// the first reader of a chunk makes its events.
    fn fill(&mut self, start: u64, end: u64) {
        for chunk in &self.chunks {
            let range = start.max(chunk.first_seq)..end.min(chunk.end_seq());
            self.events.extend(chunk.events(range).iter().map(|e| e as *const evh_event));
        }
        self.first_seq = start;
    }
}

// SAFETY: a batch's pointers point into the chunks it holds, which are immutable and shared
// through `Arc` (and `evh_event` is `Sync`); moving the batch to another thread moves the
// chunks' owners with the pointers, so they stay valid there.
unsafe impl Send for Batch {}

/// What a consumer's read found.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// `batch` holds events; `dropped` older ones were skipped under `drop_oldest`.
    Events { dropped: u64 },
    /// Nothing new yet.
    Empty,
    /// The log is closed and this consumer has seen everything.
    End,
}

/// What waiting for a commit came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Commit {
    Committed,
    TimedOut,
    /// The log stopped before the events were committed.
    Stopped,
}

/// Spins on `ready` for up to [`SPIN`]; true when it became ready.
fn spin_until(ready: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    loop {
        for _ in 0..64 {
            if ready() {
                return true;
            }
            std::hint::spin_loop();
        }
        if start.elapsed() > SPIN {
            return ready();
        }
    }
}

impl Log {
    /// A memory log.
    pub fn new(config: &LogConfig) -> Self {
        Self::with(config, None, 1, 1, BTreeMap::new())
    }

    /// The log the config asks for: a memory log, or the disk log in its folder, recovered.
    /// Start its writer with [`start`](Self::start) once every consumer joined.
    pub fn open(config: &LogConfig) -> Result<Self, OpenError> {
        let Some(disk) = &config.disk else { return Ok(Self::new(config)) };
        let opened = Disk::open(disk)?;
        Ok(Self::with(config, Some(opened.disk), opened.head, opened.tail, opened.ledger.consumers))
    }

    fn with(config: &LogConfig, disk: Option<Disk>, head: u64, tail: u64, resume: BTreeMap<String, u64>) -> Self {
        Log {
            state: Mutex::new(State {
                chunks: VecDeque::new(),
                head,
                readable: head,
                written: head,
                tail,
                bytes: 0,
                cursors: Vec::new(),
                closed: false,
                stopped: false,
                waiting_producers: 0,
                room_wanted: u64::MAX,
                waiting_consumers: 0,
                waiting_for_commit: 0,
                writer: WriterState::Working,
                ledger_dirty: false,
                resume,
                failure: None,
                nudges: 0,
            }),
            readable: AtomicU64::new(head),
            nudges: AtomicU64::new(0),
            committed: AtomicU64::new(head - 1),
            commit: Condvar::new(),
            ended: AtomicBool::new(false),
            room: Condvar::new(),
            data: Condvar::new(),
            work: Condvar::new(),
            capacity: config.capacity,
            max_bytes: config.max_bytes,
            disk,
            writer: Mutex::new(None),
            fsync: Histogram::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the state consistent (every update is a
        // single step), so poisoning is ignored.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A consumer that starts at the next appended event, for tests.
    #[cfg(test)]
    pub fn add_consumer(&self, policy: Policy) -> ConsumerId {
        let name = format!("consumer-{}", self.lock().cursors.len());
        self.join(&name, policy, Start::End)
    }

    /// Adds the consumer `name`. On a disk log that knows it, it resumes at the first event
    /// it had not acknowledged; otherwise it starts as `start` says. Register every consumer
    /// before producers start, so that each sees every event (a consumer a reload adds
    /// starts at the newest event, or at the oldest the log keeps).
    pub fn join(&self, name: &str, policy: Policy, start: Start) -> ConsumerId {
        let mut state = self.lock();
        let next = match (state.resume.remove(name), start) {
            (Some(next), _) => {
                let next = next.clamp(state.tail, state.head);
                tracing::info!(
                    consumer = name,
                    from = next,
                    behind = state.head - next,
                    "consumer resumes where it left off"
                );
                next
            }
            (None, Start::Beginning) => state.tail,
            (None, Start::End) => state.head,
        };
        state.cursors.push(Cursor::new(name, next, policy));
        state.ledger_dirty = true;
        ConsumerId(state.cursors.len() - 1)
    }

    /// A reload removes (`drain`: it delivers up to the newest event appended so far) or
    /// replaces (it finishes only the batch it holds) the consumer: from there on it reads
    /// `End`, and its delivery thread lets go of it.
    pub fn retire(&self, id: ConsumerId, drain: bool) {
        let mut state = self.lock();
        let head = state.head;
        let cursor = &mut state.cursors[id.0];
        cursor.until = Some(if drain { head } else { cursor.reading.max(cursor.next) });
        state.nudges += 1;
        self.nudges.store(state.nudges, Ordering::Release);
        if state.waiting_consumers > 0 {
            self.data.notify_all();
        }
    }

    /// The consumer is gone: it no longer holds events back in memory or on disk, and the
    /// next ledger drops it.
    pub fn leave(&self, id: ConsumerId) {
        let mut state = self.lock();
        Self::let_go(&mut state, id);
        if state.waiting_producers > 0 {
            self.room.notify_all();
        }
    }

    /// The lowest position a `block` consumer holds on the memory log: chunks below it may
    /// go when room is needed (u64::MAX when no consumer blocks).
    fn block_floor(state: &State) -> u64 {
        Self::present(state).filter(|c| c.policy == Policy::Block).map(|c| c.next).min().unwrap_or(u64::MAX)
    }

    /// The [`block_floor`](Self::block_floor) at which `events` and `bytes` fit in the
    /// memory log with a quarter of it to spare (for a batch larger than half the log, half
    /// of what it leaves): a producer that waits for room waits for that much, so that it then
    /// appends many batches before it waits again (hysteresis), instead of one per chunk
    /// the consumers let go of. Once every consumer passed everything (`head`), it fits.
    fn room_wanted(state: &State, events: usize, bytes: usize, (capacity, max_bytes): (usize, usize)) -> u64 {
        // A batch that fits the log always fits with its spare: a big one does not wait for
        // the log to be empty (a spare of all it leaves would make it).
        let spare_events = (capacity / 4).min((capacity - events) / 2);
        let spare_bytes = (max_bytes / 4).min((max_bytes - bytes) / 2);
        let (mut in_memory, mut held) =
            (state.chunks.front().map_or(0, |c| state.head - c.first_seq) as usize, state.bytes);
        for chunk in &state.chunks {
            if in_memory + events + spare_events <= capacity && held + bytes + spare_bytes <= max_bytes {
                return chunk.first_seq;
            }
            in_memory -= chunk.len();
            held -= chunk.bytes();
        }
        state.head
    }

    fn let_go(state: &mut State, id: ConsumerId) {
        let cursor = &mut state.cursors[id.0];
        cursor.left = true;
        cursor.until = Some(0);
        state.ledger_dirty = true;
    }

    /// A new consumer under the same name takes over where `old` stands (a reload replaced
    /// it), with `policy`; `old` leaves. One step under the lock, so nothing `old` held back
    /// is let go on the way.
    pub fn take_over(&self, old: ConsumerId, policy: Policy) -> ConsumerId {
        let mut state = self.lock();
        let (name, next) = (state.cursors[old.0].name.clone(), state.cursors[old.0].next);
        Self::let_go(&mut state, old);
        state.cursors.push(Cursor::new(&name, next, policy));
        // The successor may hold back less (a `drop_oldest` one, nothing).
        if state.waiting_producers > 0 {
            state.room_wanted = u64::MAX;
            self.room.notify_all();
        }
        ConsumerId(state.cursors.len() - 1)
    }

    /// The cursors that still hold events back.
    fn present(state: &State) -> impl Iterator<Item = &Cursor> {
        state.cursors.iter().filter(|c| !c.left)
    }

    /// Appends a batch atomically. With `block`, waits while the log is full.
    /// Returns the sequence numbers the batch got.
    pub fn append(&self, batch: ChunkBuilder, block: bool) -> Result<std::ops::Range<u64>, AppendError> {
        let (events, bytes) = (batch.len(), batch.bytes());
        self.fits(events, bytes)?;
        if events == 0 {
            let head = self.lock().head;
            return Ok(head..head);
        }
        self.append_chunk(batch.finish(), block).map_err(|(e, _)| e)
    }

    /// Refuses a batch (or a claim, ABI 1.2) of `events` and `bytes` that could never fit.
    pub fn fits(&self, events: usize, bytes: usize) -> Result<(), AppendError> {
        fits(events, bytes, self.limits())
    }

    /// The most events and bytes it holds: its `capacity` and `max_bytes`.
    pub fn limits(&self) -> (usize, usize) {
        (self.capacity, self.max_bytes)
    }

    /// True for the disk log, whose writer encodes chunks from their records: a claimed
    /// chunk (ABI 1.2) is copied into a built one before it goes there.
    pub fn is_disk(&self) -> bool {
        self.disk.is_some()
    }

    /// Appends a finished chunk of at least one event that fits (see [`fits`](Self::fits)):
    /// a built one, or a claimed one on the memory log. Hands the chunk back when refused,
    /// so that a claim stays open (boxed: a refusal is rare, and the result stays small).
    pub fn append_chunk(
        &self,
        mut chunk: Chunk,
        block: bool,
    ) -> Result<std::ops::Range<u64>, (AppendError, Box<Chunk>)> {
        debug_assert!(!(chunk.is_claimed() && self.is_disk()), "the disk log cannot encode a claimed chunk");
        let (events, bytes) = (chunk.len(), chunk.bytes());
        // Read before the lock every producer and reader takes; a millisecond is its precision.
        let now = now_ms();
        let mut state = self.lock();
        loop {
            if state.stopped || state.closed {
                return Err((AppendError::Stopped, Box::new(chunk)));
            }
            if self.make_room(&mut state, events, bytes) {
                break;
            }
            if !block {
                return Err((AppendError::Full, Box::new(chunk)));
            }
            // Park at once: room comes in quarters of the memory log (`room_wanted`), which
            // take longer than a spin, or from the disk log's writer rounds, longer still.
            // The lock is held from the look above to the wait, so no wake-up falls between.
            if self.disk.is_none() {
                let wanted = Self::room_wanted(&state, events, bytes, self.limits());
                state.room_wanted = state.room_wanted.min(wanted);
            }
            state.waiting_producers += 1;
            state = self.room.wait(state).unwrap_or_else(|e| e.into_inner());
            state.waiting_producers -= 1;
        }
        let first = state.head;
        chunk.number(first);
        chunk.appended_ms = now;
        state.head += events as u64;
        state.bytes += bytes;
        state.chunks.push_back(Arc::new(chunk));
        if self.disk.is_some() {
            // The writer commits it.
            if matches!(state.writer, WriterState::Waiting { .. }) {
                self.work.notify_one();
            }
        } else {
            let head = state.head;
            state.written = head;
            self.publish(&mut state, head);
        }
        Ok(first..first + events as u64)
    }

    /// Events up to `end` are committed: consumers may read them, and producers waiting
    /// for them return.
    fn publish(&self, state: &mut State, end: u64) {
        state.readable = end;
        self.readable.store(end, Ordering::Release);
        self.committed.store(end - 1, Ordering::Release);
        if state.waiting_consumers > 0 {
            self.data.notify_all();
        }
        if state.waiting_for_commit > 0 {
            self.commit.notify_all();
        }
    }

    /// Frees the oldest chunks until `events` and `bytes` more fit, as far as the cursors
    /// allow: `block` cursors hold chunks they have not passed; `drop_oldest` cursors are
    /// moved past the chunks freed. The disk log frees committed chunks instead, when it
    /// must: a consumer behind them reads them back from disk. True when the batch fits now.
    fn make_room(&self, state: &mut State, events: usize, bytes: usize) -> bool {
        // A producer ahead of the disk log's writer waits for it once half the memory holds
        // uncommitted events, so that the other half keeps what consumers are about to read:
        // evicting that would have them read each event back from disk.
        let uncommitted = (state.head - state.readable) as usize;
        if self.disk.is_some() && uncommitted > 0 && uncommitted + events > self.capacity / 2 {
            return false;
        }
        let fits = |s: &State| {
            let in_memory = s.chunks.front().map_or(0, |c| s.head - c.first_seq) as usize;
            in_memory + events <= self.capacity && s.bytes + bytes <= self.max_bytes
        };
        let floor = match self.disk {
            Some(_) => state.readable,
            None => Self::block_floor(state),
        };
        let passed = Self::present(state).map(|c| c.next).min().unwrap_or(state.head).min(state.readable);
        // Chunks every consumer has passed are garbage; the rest go only when needed.
        while let Some(front) = state.chunks.front() {
            let end = front.end_seq();
            if end > passed && (fits(state) || end > floor) {
                break;
            }
            state.bytes -= front.bytes();
            state.chunks.pop_front();
            if self.disk.is_none() {
                state.tail = end;
            }
        }
        Self::drop_before(state, state.tail);
        fits(state)
    }

    /// Moves the cursors that are behind `tail` to it, counting what they skipped.
    fn drop_before(state: &mut State, tail: u64) {
        for cursor in state.cursors.iter_mut().filter(|c| c.next < tail && !c.left) {
            cursor.dropped += tail.saturating_sub(cursor.reading.max(cursor.next));
            cursor.next = tail;
            cursor.reading = cursor.reading.max(tail);
        }
    }

    /// The end of what consumers can read (for the memory log, the sequence number the next
    /// appended event will get).
    pub fn head(&self) -> u64 {
        self.readable.load(Ordering::Acquire)
    }

    /// Where the log stands, for a reader to pass to [`wait`](Self::wait) once it found
    /// nothing to do: taken before it looked, so that nothing that came meanwhile is missed.
    pub fn seen(&self) -> Seen {
        Seen { nudges: self.nudges.load(Ordering::Acquire), readable: self.readable.load(Ordering::Acquire) }
    }

    /// Fills `batch` with up to `max` events from the consumer's cursor, without waiting.
    pub fn try_read(&self, id: ConsumerId, max: usize, batch: &mut Batch) -> Read {
        batch.clear();
        let mut state = self.lock();
        let start = state.cursors[id.0].next;
        let until = state.cursors[id.0].until.unwrap_or(u64::MAX);
        if start >= until {
            return Read::End;
        }
        if start >= state.readable {
            let end = state.stopped || (state.closed && start >= state.head);
            return if end { Read::End } else { Read::Empty };
        }
        let end = state.readable.min(start + max as u64).min(until);
        let in_memory = state.chunks.front().map_or(state.head, |c| c.first_seq);
        if start < in_memory {
            drop(state);
            return self.read_disk(id, start, end.min(in_memory), max, batch);
        }
        let cursor = &mut state.cursors[id.0];
        let dropped = std::mem::take(&mut cursor.dropped);
        cursor.reading = end;
        let first = state.chunks.partition_point(|c| c.end_seq() <= start);
        batch.chunks.extend(state.chunks.range(first..).take_while(|c| c.first_seq < end).cloned());
        drop(state);
        batch.fill(start, end);
        Read::Events { dropped }
    }

    /// `try_read` of events that have left memory: from the disk log's files, outside the
    /// lock. Events lost there (quarantined at recovery, or never written before a power
    /// loss) are skipped; recovery reported them.
    fn read_disk(&self, id: ConsumerId, start: u64, until: u64, max: usize, batch: &mut Batch) -> Read {
        let disk = self.disk.as_ref().expect("only the disk log's chunks leave memory before they are read");
        let read = disk.read(start, until, READ_BYTES, &mut batch.hint);
        let mut state = self.lock();
        let cursor = &mut state.cursors[id.0];
        if cursor.next != start {
            // Moved past what was read meanwhile (its events were deleted): read again.
            drop(state);
            return self.try_read(id, max, batch);
        }
        let chunks = match read {
            Ok(chunks) => chunks,
            Err(e) => {
                tracing::error!(consumer = %cursor.name, from = start, "cannot read the disk log: {e}; this consumer waits until it can");
                return Read::Empty;
            }
        };
        let first = chunks.first().map_or(until, |c| c.first_seq.max(start));
        if first > start {
            tracing::debug!(consumer = %cursor.name, from = start, to = first, "skipping events missing from the disk log");
            cursor.next = first;
            cursor.reading = cursor.reading.max(first);
            drop(state);
            return self.try_read(id, max, batch);
        }
        // Only records that follow each other, and only what was asked for.
        let mut end = start;
        for chunk in chunks {
            if chunk.first_seq > end || end >= until {
                break;
            }
            end = chunk.end_seq().min(until);
            batch.chunks.push(chunk);
        }
        let dropped = std::mem::take(&mut cursor.dropped);
        cursor.reading = end;
        drop(state);
        batch.fill(start, end);
        Read::Events { dropped }
    }

    /// Waits until events past `seen` arrive, a cursor is retired, the log ends, or `until`
    /// passes: spins briefly, then parks.
    pub fn wait(&self, seen: Seen, until: Option<Instant>) {
        let ready = || {
            self.readable.load(Ordering::Acquire) != seen.readable
                || self.nudges.load(Ordering::Acquire) != seen.nudges
                || self.ended.load(Ordering::Acquire)
        };
        if spin_until(ready) || until.is_some_and(|t| Instant::now() >= t) {
            return;
        }
        let mut state = self.lock();
        state.waiting_consumers += 1;
        while state.readable == seen.readable
            && state.nudges == seen.nudges
            && !(state.stopped || (state.closed && state.readable == state.head))
        {
            match until {
                None => state = self.data.wait(state).unwrap_or_else(|e| e.into_inner()),
                Some(t) => {
                    let left = t.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    state = self.data.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0;
                }
            }
        }
        state.waiting_consumers -= 1;
    }

    /// Marks the consumer's batch as done and lets go of it, so that its chunks can be
    /// recycled as soon as every consumer has passed them.
    pub fn commit(&self, id: ConsumerId, batch: &mut Batch) {
        let end = batch.first_seq + batch.events.len() as u64;
        {
            let mut state = self.lock();
            let cursor = &mut state.cursors[id.0];
            // A drop_oldest cursor may have been moved further meanwhile; never go back.
            cursor.next = cursor.next.max(end);
            // A producer on the memory log waits for a quarter of the log (`room_wanted`),
            // not for each batch a consumer finishes: woken per commit, it took the lock
            // after each of them and fought the consumers for it, one futex call apiece.
            if state.waiting_producers > 0 && (self.disk.is_some() || Self::block_floor(&state) >= state.room_wanted) {
                state.room_wanted = u64::MAX;
                self.room.notify_all();
            }
            if self.disk.is_some() {
                state.ledger_dirty = true;
                if state.writer == (WriterState::Waiting { timed: false }) {
                    self.work.notify_one();
                }
            }
        }
        // Outside the lock: letting go of the last reference frees a chunk.
        batch.clear();
    }

    /// Every event with a sequence number up to this one is committed (0: none yet).
    pub fn committed(&self) -> u64 {
        self.committed.load(Ordering::Acquire)
    }

    /// Waits until the event with sequence number `seq` is committed, the log stops, or
    /// `until` passes.
    pub fn wait_committed(&self, seq: u64, until: Option<Instant>) -> Commit {
        // Without the lock when it is already there: the memory log commits at append, and
        // a waiter that locks per batch contends with the producer appending the next.
        if self.committed() >= seq {
            return Commit::Committed;
        }
        let mut state = self.lock();
        state.waiting_for_commit += 1;
        let outcome = loop {
            if self.committed() >= seq {
                break Commit::Committed;
            }
            if state.stopped {
                break Commit::Stopped;
            }
            match until {
                None => state = self.commit.wait(state).unwrap_or_else(|e| e.into_inner()),
                Some(t) => {
                    let left = t.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break Commit::TimedOut;
                    }
                    state = self.commit.wait_timeout(state, left).unwrap_or_else(|e| e.into_inner()).0;
                }
            }
        };
        state.waiting_for_commit -= 1;
        outcome
    }

    /// No more appends: consumers deliver what is left, then read `End`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ended.store(true, Ordering::Release);
        self.room.notify_all();
        self.data.notify_all();
        self.work.notify_one();
    }

    /// Gives up: waiting producers and consumers return at once.
    pub fn stop(&self) {
        self.lock().stopped = true;
        self.ended.store(true, Ordering::Release);
        self.room.notify_all();
        self.data.notify_all();
        self.commit.notify_all();
        self.work.notify_one();
    }

    /// How long ago the oldest event a consumer has not had was appended (None when it has
    /// had every event). For the metrics; a consumer behind the memory window costs one
    /// record read from disk.
    pub fn oldest_pending_age(&self, id: ConsumerId) -> Option<Duration> {
        let state = self.lock();
        let next = state.cursors[id.0].next;
        if next >= state.readable {
            return None;
        }
        let at = state.chunks.partition_point(|c| c.end_seq() <= next);
        let in_memory = state.chunks.get(at).filter(|c| c.first_seq <= next).map(|c| c.appended_ms);
        drop(state);
        let appended = match in_memory {
            Some(ms) => ms,
            None => {
                let disk = self.disk.as_ref()?;
                let read = disk.read(next, next + 1, 1, &mut ReadHint::default()).ok()?;
                read.first()?.appended_ms
            }
        };
        Some(Duration::from_millis(now_ms().saturating_sub(appended)))
    }

    /// Events a consumer has not yet committed.
    pub fn pending(&self, id: ConsumerId) -> u64 {
        let state = self.lock();
        state.head - state.cursors[id.0].next
    }
}

#[cfg(test)]
mod tests;
