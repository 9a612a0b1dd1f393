//! Commit tracking (ABI 1.1): a [`Ticket`] for each batch `Emitter::emit_tracked` handed to
//! the host, which a producer waits on (blocking, [`Ticket::wait`]) or awaits
//! ([`Ticket::committed`], a `Future` woken by the SDK's own `on_committed` hook, with no
//! runtime of its own: it works on any executor).
//!
//! Against a 1.0 host, which has no commit entries, a batch counts as committed once the
//! host accepted it: that is what "committed" meant there (the memory log).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use evhost_abi::{EVH_BUSY, EVH_OK, EVH_WAIT_FOREVER};

use crate::context::HostCell;
use crate::error::EmitError;

/// A batch the host accepted, and the sequence number of its last event: the batch is
/// committed once the host's commit watermark reaches it. Cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Ticket {
    seq: u64,
    cell: Arc<HostCell>,
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Ticket").field(&self.seq).finish()
    }
}

impl Ticket {
    pub(crate) fn new(seq: u64, cell: Arc<HostCell>) -> Self {
        Ticket { seq, cell }
    }

    /// The sequence number of the batch's last event (for an empty batch, the watermark
    /// when it was emitted); 0 against a 1.0 host, which does not tell.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// True once the batch is committed. Does not block.
    pub fn is_committed(&self) -> bool {
        self.cell.committed().is_some_and(|committed| committed >= self.seq)
    }

    /// Blocks until the batch is committed. `Err(EmitError::Stopped)` when the host stopped
    /// first (the batch may still be delivered: it was accepted, but not committed).
    pub fn wait(&self) -> Result<(), EmitError> {
        self.wait_ms(EVH_WAIT_FOREVER).map(drop)
    }

    /// Blocks until the batch is committed (`Ok(true)`) or `timeout` passes (`Ok(false)`).
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool, EmitError> {
        // At most just under "forever": a timeout that long is not one to wait out.
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(EVH_WAIT_FOREVER - 1).min(EVH_WAIT_FOREVER - 1);
        self.wait_ms(ms)
    }

    fn wait_ms(&self, ms: u64) -> Result<bool, EmitError> {
        match self.cell.wait_committed(self.seq, ms) {
            Some(EVH_OK) => Ok(true),
            Some(EVH_BUSY) => Ok(false),
            Some(other) => Err(EmitError::from_status(other)),
            None => Err(EmitError::Stopped),
        }
    }

    /// A future that is ready once the batch is committed, with `Err(EmitError::Stopped)`
    /// when the host stopped first or destroyed the instance. It never blocks a thread: the
    /// SDK's `on_committed` hook wakes it, so one task can keep many batches in flight.
    pub fn committed(&self) -> Committed {
        Committed { ticket: self.clone(), key: None }
    }
}

/// The future [`Ticket::committed`] returns.
pub struct Committed {
    ticket: Ticket,
    /// Its entry in the instance's waiters, once it registered a waker.
    key: Option<u64>,
}

impl Future for Committed {
    type Output = Result<(), EmitError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let seq = self.ticket.seq;
        let cell = self.ticket.cell.clone();
        if !cell.tracks_commits() {
            return Poll::Ready(Ok(()));
        }
        let waiters = &cell.waiters;
        let mut state = waiters.lock();
        // Under the lock the hook takes to move the watermark: a commit cannot fall between
        // this look and the waker's registration.
        match cell.committed() {
            Some(committed) if committed >= seq => return Poll::Ready(Ok(())),
            Some(_) if !state.closed => {}
            _ => return Poll::Ready(Err(EmitError::Stopped)),
        }
        let key = *self.key.get_or_insert_with(|| waiters.next_key.fetch_add(1, Ordering::Relaxed));
        match state.wakers.get_mut(&key) {
            Some((_, waker)) => waker.clone_from(cx.waker()),
            None => {
                state.wakers.insert(key, (seq, cx.waker().clone()));
            }
        }
        Poll::Pending
    }
}

impl Drop for Committed {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.ticket.cell.waiters.lock().wakers.remove(&key);
        }
    }
}

/// The wakers of one instance's pending `Committed` futures.
#[derive(Default)]
pub(crate) struct Waiters {
    state: Mutex<WaitState>,
    next_key: AtomicU64,
}

#[derive(Default)]
struct WaitState {
    /// By future: the ticket it waits for and its waker.
    wakers: HashMap<u64, (u64, Waker)>,
    /// The instance is gone: every future ends with `Stopped`.
    closed: bool,
}

impl Waiters {
    fn lock(&self) -> std::sync::MutexGuard<'_, WaitState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The hook: wakes every future whose ticket is `<= committed`. Wakers run after the
    /// lock is let go, since a waker may poll at once.
    pub(crate) fn committed(&self, committed: u64) {
        let ready: Vec<Waker> = {
            let mut state = self.lock();
            let keys: Vec<u64> =
                state.wakers.iter().filter(|(_, (seq, _))| *seq <= committed).map(|(key, _)| *key).collect();
            keys.iter().filter_map(|key| state.wakers.remove(key)).map(|(_, waker)| waker).collect()
        };
        ready.into_iter().for_each(Waker::wake);
    }

    /// The instance is gone: wakes every future, to end with `Stopped`.
    pub(crate) fn close(&self) {
        let all: Vec<Waker> = {
            let mut state = self.lock();
            state.closed = true;
            state.wakers.drain().map(|(_, (_, waker))| waker).collect()
        };
        all.into_iter().for_each(Waker::wake);
    }
}
