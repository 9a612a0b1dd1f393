//! The disk log's writer thread: group commit. It takes every chunk appended since its last
//! round, writes them as one run of records, fsyncs once (as the policy says), then commits
//! them all: consumers may read them and producers waiting for the commit return. Producers
//! keep appending to memory meanwhile, so the next round takes all of those: the busier the
//! log, the more events share one fsync.
//!
//! It also writes the ledger (consumers' positions) at most every `LEDGER_EVERY`, and only
//! deletes segments that the ledger on disk says every consumer that needs them has passed.
//! An idle log has no rounds: the thread sleeps until an append or an acknowledgement.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::disk::{Disk, Ledger, LedgerWriter, Writer};
use super::{Log, State, WriterState};
use crate::config::{Fsync, Policy};

/// How often, at most, the ledger is written while consumers acknowledge: after a crash a
/// consumer sees again at most what it acknowledged in this window.
const LEDGER_EVERY: Duration = Duration::from_millis(20);

/// Retries of a failed write: from the first wait, doubling up to the last.
const RETRY_FIRST: Duration = Duration::from_millis(10);
const RETRY_MAX: Duration = Duration::from_secs(1);

/// What one round does.
struct Round {
    chunks: Vec<Arc<super::Chunk>>,
    /// The ledger to write, if it is due.
    ledger: Option<Ledger>,
    /// The last round: write what is left, and end.
    last: bool,
}

/// The writer thread's own state between rounds.
struct Writing {
    writer: Writer,
    ledger: LedgerWriter,
    ledger_at: Instant,
    /// When the oldest write not yet fsynced was made (fsync = "interval").
    unsynced_since: Option<Instant>,
    /// After a failed write: when to try again, and the wait after that.
    retry: Option<(Instant, Duration)>,
    /// The disk is full (`max_bytes`): nothing is written until consumers move on.
    full: bool,
    /// Where the consumers stood in the last ledger written, by policy.
    floor_all: u64,
    floor_block: u64,
}

impl Log {
    /// Starts the disk log's writer thread, once every consumer has joined: consumers the
    /// ledger knows but the config no longer has stop holding back retention here.
    pub fn start(self: &Arc<Self>) -> std::io::Result<()> {
        let Some(disk) = &self.disk else { return Ok(()) };
        let (head, tail) = {
            let mut state = self.lock();
            for (name, next) in std::mem::take(&mut state.resume) {
                tracing::warn!(consumer = %name, at = next, "consumer \"{name}\" is in the log's ledger but not in the config; it no longer holds back retention");
            }
            (state.head, state.tail)
        };
        let writer = Writer::new(disk, head)?;
        let mut writing = Writing {
            writer,
            ledger: LedgerWriter::open(&disk.dir, disk.ledger_generation)?,
            ledger_at: Instant::now() - LEDGER_EVERY,
            unsynced_since: None,
            retry: None,
            full: false,
            floor_all: tail,
            floor_block: tail,
        };
        let log = self.clone();
        let thread = std::thread::Builder::new().name("log-writer".into()).spawn(move || {
            let disk = log.disk.as_ref().expect("a disk log");
            while log.round(disk, &mut writing) {}
        })?;
        *self.writer.lock().unwrap_or_else(|e| e.into_inner()) = Some(thread);
        // The first ledger names every consumer at once, so a restart right away resumes them.
        self.lock().ledger_dirty = true;
        self.work.notify_one();
        Ok(())
    }

    /// Writes what is left and the final ledger, and ends the writer thread. Call it once
    /// consumers have drained (or given up).
    pub fn shutdown(&self) {
        let Some(thread) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() else { return };
        self.lock().writer = WriterState::ShuttingDown;
        self.work.notify_one();
        let _ = thread.join();
    }

    /// Why the disk log failed, if it did: events it accepted may not be on disk.
    pub fn failure(&self) -> Option<String> {
        self.lock().failure.clone()
    }

    /// One round of the writer; false when it is over.
    fn round(&self, disk: &Disk, writing: &mut Writing) -> bool {
        let round = self.next_round(disk, writing);
        let end = self.write(disk, writing, round.chunks, round.last);
        let fsync = disk.config.fsync;
        if end.is_some() {
            writing.unsynced_since.get_or_insert_with(Instant::now);
        }
        let synced = match fsync {
            Fsync::Commit => true,
            Fsync::Interval(every) => round.last || writing.unsynced_since.is_some_and(|t| t.elapsed() >= every),
            Fsync::Never => round.last,
        };
        if synced {
            let started = Instant::now();
            let result = writing.writer.sync();
            // Only rounds that wrote something fsync; the others would count as 0 s.
            if writing.unsynced_since.is_some() {
                self.fsync.observe(started.elapsed());
            }
            if let Err(e) = result {
                // After a failed fsync, what the kernel still holds is unknown (it may have
                // dropped the pages): no retry can make those events safe. Stop, and let the
                // next start recover what is really on disk.
                self.fail(format!("fsync of the disk log in {} failed: {e}; events written since the last fsync may not be on disk. The host stops; restart it to recover the log", disk.dir.display()));
                return false;
            }
            writing.unsynced_since = None;
        }
        if let Some(end) = end {
            self.publish(&mut self.lock(), end);
            self.room.notify_all();
        }
        if let Some(ledger) = round.ledger {
            match writing.ledger.write(&ledger, fsync != Fsync::Never) {
                Ok(()) => {
                    self.retain(disk, writing);
                    // Consumers moved: whatever was deleted, try writing again.
                    writing.full = false;
                }
                Err(e) => tracing::warn!(
                    "cannot write the disk log's ledger in {}: {e}; trying again on the next round",
                    disk.dir.display()
                ),
            }
        }
        !round.last
    }

    /// Waits until there is something to do, and takes it.
    fn next_round(&self, disk: &Disk, writing: &mut Writing) -> Round {
        let mut state = self.lock();
        loop {
            let now = Instant::now();
            let last = state.writer == WriterState::ShuttingDown || state.stopped;
            let retry_due = writing.retry.is_none_or(|(at, _)| now >= at);
            let to_write = state.written < state.head && !writing.full && retry_due;
            let ledger_at = writing.ledger_at + LEDGER_EVERY;
            let ledger_due = state.ledger_dirty && now >= ledger_at;
            let sync_at = match disk.config.fsync {
                Fsync::Interval(every) => writing.unsynced_since.map(|t| t + every),
                _ => None,
            };
            if last || to_write || ledger_due || sync_at.is_some_and(|t| now >= t) {
                let chunks = if to_write || last {
                    let written = state.written;
                    state.chunks.iter().filter(|c| c.end_seq() > written).cloned().collect()
                } else {
                    Vec::new()
                };
                let ledger = (ledger_due || last).then(|| {
                    state.ledger_dirty = false;
                    writing.ledger_at = now;
                    // The head of this round: nothing is numbered at or past it yet.
                    let head = state.head;
                    Ledger { head, consumers: Log::present(&state).map(|c| (c.name.clone(), c.next)).collect() }
                });
                if ledger.is_some() {
                    // The floors hold once this ledger is on disk; `retain` uses them then.
                    (writing.floor_all, writing.floor_block) = floors(&state);
                }
                state.writer = if last { WriterState::ShuttingDown } else { WriterState::Working };
                return Round { chunks, ledger, last };
            }
            let wake = [
                (state.written < state.head && !writing.full).then(|| writing.retry.map(|(at, _)| at)).flatten(),
                state.ledger_dirty.then_some(ledger_at),
                sync_at,
            ]
            .into_iter()
            .flatten()
            .min();
            state.writer = WriterState::Waiting { timed: wake.is_some() };
            state = match wake {
                Some(at) => {
                    self.work
                        .wait_timeout(state, at.saturating_duration_since(now))
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self.work.wait(state).unwrap_or_else(|e| e.into_inner()),
            };
            if state.writer != WriterState::ShuttingDown {
                state.writer = WriterState::Working;
            }
        }
    }

    /// Writes the chunks that fit the disk; returns the new end of what is written.
    fn write(&self, disk: &Disk, writing: &mut Writing, chunks: Vec<Arc<super::Chunk>>, last: bool) -> Option<u64> {
        if chunks.is_empty() {
            return None;
        }
        let mut fit = fitting(disk, &chunks);
        if fit == 0 && !writing.full {
            // The newest segment is never deleted, so when it holds what every consumer
            // has passed, the room it takes comes back only once it is not the newest:
            // start a new one, and free what the last ledger lets go.
            if let Err(e) = writing.writer.roll_if_used(disk, chunks[0].first_seq) {
                tracing::warn!("cannot start a new segment of the disk log in {}: {e}", disk.dir.display());
            }
            writing.full = true;
            self.retain(disk, writing);
            writing.full = false;
            fit = fitting(disk, &chunks);
        }
        if fit == 0 {
            if !writing.full {
                let state = self.lock();
                let holder = Log::present(&state).filter(|c| c.policy == Policy::Block).min_by_key(|c| c.next);
                let who = holder.map_or(String::new(), |c| {
                    format!(" until consumer \"{}\" (policy block, at event {}) moves on", c.name, c.next)
                });
                tracing::warn!(
                    "the disk log is full ({} bytes, [log] max_bytes); producers wait{who}",
                    disk.config.max_bytes
                );
            }
            writing.full = true;
            if last {
                self.lose_unwritten(disk, "the disk log is full");
            }
            return None;
        }
        let (written, failed) = match writing.writer.write(disk, &chunks[..fit]) {
            Ok(()) => (fit, None),
            Err((written, e)) => (written, Some(e)),
        };
        // What was written before an error counts: it is on disk and in the index.
        let end = chunks[..written].last().map(|c| c.end_seq());
        if let Some(end) = end {
            self.lock().written = end;
        }
        match failed {
            None => {
                if writing.retry.take().is_some() {
                    tracing::info!("the disk log in {} is writable again", disk.dir.display());
                }
            }
            Some(e) => {
                let wait = writing.retry.map_or(RETRY_FIRST, |(_, wait)| (wait * 2).min(RETRY_MAX));
                if writing.retry.is_none() {
                    tracing::warn!(
                        "cannot write the disk log in {}: {e}; trying again, and producers wait until it can",
                        disk.dir.display()
                    );
                }
                writing.retry = Some((Instant::now() + wait, wait));
                if last {
                    self.lose_unwritten(disk, &e.to_string());
                }
            }
        }
        end
    }

    /// Deletes the segments the ledger just written lets go: those every consumer passed,
    /// and, when the disk is full, those every `block` consumer passed (`drop_oldest`
    /// consumers still in them skip ahead, counted).
    fn retain(&self, disk: &Disk, writing: &mut Writing) {
        let mut deleted = disk.delete_before(writing.floor_all);
        if writing.full || disk.bytes() * 10 >= disk.config.max_bytes * 9 {
            while let (Ok(_), Some((end, _))) = (&deleted, disk.oldest()) {
                if end > writing.floor_block {
                    break;
                }
                deleted = disk.delete_before(end);
            }
        }
        match deleted {
            Ok(Some(tail)) => {
                let mut state = self.lock();
                state.tail = state.tail.max(tail);
                let tail = state.tail;
                Self::drop_before(&mut state, tail);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("cannot delete an old segment of the disk log in {}: {e}", disk.dir.display()),
        }
    }

    /// At the last round, events that could not be written are lost: say so, and fail.
    fn lose_unwritten(&self, disk: &Disk, why: &str) {
        let state = self.lock();
        let lost = state.head - state.written;
        drop(state);
        self.fail(format!(
            "{lost} events accepted by the host were never written to the disk log in {} ({why}); they are lost",
            disk.dir.display()
        ));
    }

    fn fail(&self, message: String) {
        tracing::error!("{message}");
        self.lock().failure = Some(message);
        self.stop();
    }
}

/// How many of the chunks, from the first, fit the disk log's room.
fn fitting(disk: &Disk, chunks: &[Arc<super::Chunk>]) -> usize {
    let room = disk.config.max_bytes.saturating_sub(disk.bytes());
    let mut size = 0;
    chunks
        .iter()
        .take_while(|chunk| {
            size += Writer::size(chunk);
            size <= room
        })
        .count()
}

/// The lowest position of all consumers, and of the `block` ones.
fn floors(state: &State) -> (u64, u64) {
    let lowest = |block_only: bool| {
        Log::present(state)
            .filter(|c| !block_only || c.policy == Policy::Block)
            .map(|c| c.next)
            .min()
            .unwrap_or(state.written)
    };
    (lowest(false), lowest(true))
}
