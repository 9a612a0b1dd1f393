//! Delivery: a few threads, sized to the machine, each serving several consumers. A thread
//! takes turns: for each of its consumers it reads a batch from that consumer's cursor and
//! hands it to the plugin. OK advances the cursor; RETRY schedules the unhandled rest again
//! after a backoff (the thread serves the others meanwhile), up to the retry limit; FAIL, an
//! unknown status, an out-of-range `handled`, or exhausted retries send the rest to the
//! dead-letter target, and delivery goes on. A dead-letter write that fails is tried again a
//! few times the same way; what still cannot be written is counted as lost. When none of its
//! consumers has work, the thread spins briefly and parks.
//!
//! A consumer whose `on_events` call takes long would hold up the others on its thread, so
//! after a few slow calls in a row it is moved to a thread of its own. (One slow call proves
//! nothing: a thread preempted mid-call looks slow too, and on a small machine that happens.)
//! A call that never returns is caught by the watchdog instead (see `watchdog`): it moves
//! the stuck consumer's neighbours to a new thread.

mod consumer;
mod dead_letter;
mod lane;
pub(crate) mod retry;
mod unkept;
mod watchdog;

use std::sync::atomic::{AtomicBool, Ordering};

pub use consumer::{Consumer, Report};
pub use lane::{Call, Done, Lanes};
pub use watchdog::OVERRUN;

/// Set when shutdown gives up at its deadline: pending retries are not waited for.
#[derive(Default)]
pub struct Abort(AtomicBool);

impl Abort {
    pub fn abort(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn is_aborted(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// How many delivery threads to start: one per core left after the producers' one, at
/// least one, and no more than there are consumers.
pub fn thread_count(consumers: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.saturating_sub(1).clamp(1, consumers.max(1))
}
