//! Which plugin code each host thread is inside: which hook of which instance, or which step
//! of loading which library, and since when. Every call into a plugin enters a [`Site`] and
//! leaves it on return. Two readers use this:
//! - the signal thread, to say what a stop that does not finish is stuck in ([`busy`]);
//! - the crash handler, to say who crashed ([`crash_note`]), from inside a signal handler.
//!
//! Entering is on the delivery path (one hook call per batch), so it costs two atomic swaps
//! and a coarse clock read: no allocation, no lock. Each thread registers once, on its first hook
//! call, in a slot it gives back when it ends.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use nix::libc;

/// One place plugin code runs: `hook` of `who`, e.g. `on_create` of `consumer "x" (libx.so)`.
pub struct Site {
    pub who: String,
    pub hook: &'static str,
    /// What the crash handler writes after the signal's name, whole lines, ready to go.
    crash_note: Box<[u8]>,
}

impl Site {
    /// A site that lives for the rest of the process: a thread may be inside it for ever
    /// (a stuck hook), and a reader may hold it at any time, so it is never freed. Sites are
    /// made once per instance or library, a few hundred bytes each.
    pub(super) fn leak(who: String, hook: &'static str) -> &'static Site {
        let crash_note = format!(" while {who} was in {hook}; the process dies of this signal\n").into_bytes();
        Box::leak(Box::new(Site { who, hook, crash_note: crash_note.into_boxed_slice() }))
    }
}

/// One thread's record. Slots are never freed (readers hold them without a lock); a slot
/// whose thread ended is reused by the next new thread.
struct Slot {
    site: AtomicPtr<Site>,
    /// When the current site was entered, in nanoseconds on [`now`]'s clock.
    since: AtomicU64,
    taken: AtomicBool,
}

static SLOTS: Mutex<Vec<&'static Slot>> = Mutex::new(Vec::new());

thread_local! {
    /// This thread's slot. No destructor and a const initializer: reading it is a plain
    /// thread-local load, which the crash handler relies on.
    static SLOT: Cell<Option<&'static Slot>> = const { Cell::new(None) };
    /// Gives the slot back when the thread ends.
    static RELEASE: Release = const { Release };
}

struct Release;

impl Drop for Release {
    fn drop(&mut self) {
        if let Ok(Some(slot)) = SLOT.try_with(Cell::get) {
            slot.site.store(std::ptr::null_mut(), Ordering::Release);
            slot.taken.store(false, Ordering::Release);
        }
    }
}

/// Nanoseconds on the coarse monotonic clock: a few nanoseconds to read, and its resolution
/// (a few milliseconds) is plenty to say how long a hook has been stuck.
fn now() -> u64 {
    let mut time = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid out-pointer; CLOCK_MONOTONIC_COARSE exists on every Linux since 2.6.32.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut time) };
    time.tv_sec as u64 * 1_000_000_000 + time.tv_nsec as u64
}

fn slot() -> &'static Slot {
    if let Some(slot) = SLOT.get() {
        return slot;
    }
    let mut slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    let free =
        slots.iter().find(|s| s.taken.compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed).is_ok());
    let slot = match free {
        Some(slot) => *slot,
        None => {
            let slot: &'static Slot = Box::leak(Box::new(Slot {
                site: AtomicPtr::new(std::ptr::null_mut()),
                since: AtomicU64::new(0),
                taken: AtomicBool::new(true),
            }));
            slots.push(slot);
            slot
        }
    };
    SLOT.set(Some(slot));
    RELEASE.with(|_| ());
    slot
}

/// The calling thread is inside a site until this is dropped; then it is back where it was
/// (a hook may call the host, which may call another plugin's hook).
pub(super) struct Inside {
    slot: &'static Slot,
    previous: *mut Site,
    previous_since: u64,
}

/// Marks the calling thread as inside `site`.
pub(super) fn enter(site: &'static Site) -> Inside {
    let slot = slot();
    let previous_since = slot.since.swap(now(), Ordering::Relaxed);
    let previous = slot.site.swap(site as *const Site as *mut Site, Ordering::Release);
    Inside { slot, previous, previous_since }
}

impl Drop for Inside {
    fn drop(&mut self) {
        self.slot.since.store(self.previous_since, Ordering::Relaxed);
        self.slot.site.store(self.previous, Ordering::Release);
    }
}

/// A thread inside plugin code, and for how long.
pub struct Busy {
    pub site: &'static Site,
    pub elapsed: Duration,
}

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is still in {} after {:.1}s", self.site.who, self.site.hook, self.elapsed.as_secs_f64())
    }
}

/// Every thread inside plugin code now, longest first.
pub fn busy() -> Vec<Busy> {
    let now = now();
    let slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    let mut busy: Vec<Busy> = slots
        .iter()
        .filter_map(|slot| {
            // SAFETY: a non-null site pointer comes from `enter`, which only stores leaked
            // `&'static Site`s.
            let site = unsafe { slot.site.load(Ordering::Acquire).as_ref() }?;
            let elapsed = Duration::from_nanos(now.saturating_sub(slot.since.load(Ordering::Relaxed)));
            Some(Busy { site, elapsed })
        })
        .collect();
    busy.sort_by_key(|b| std::cmp::Reverse(b.elapsed));
    busy
}

/// What the crash handler says about the crashing thread, when it is inside plugin code.
/// Async-signal-safe: thread-local and atomic loads only; no lock, no allocation.
pub fn crash_note() -> Option<&'static [u8]> {
    let slot = SLOT.try_with(Cell::get).ok().flatten()?;
    // SAFETY: as in `busy`: only leaked sites are ever stored.
    let site = unsafe { slot.site.load(Ordering::Acquire).as_ref() }?;
    Some(&site.crash_note)
}

#[cfg(test)]
mod tests {
    use super::{busy, enter, Site};

    fn is_busy(site: &'static Site) -> bool {
        busy().iter().any(|b| std::ptr::eq(b.site, site))
    }

    #[test]
    fn a_nested_call_returns_to_the_outer_site() {
        let outer = Site::leak("producer \"p\" (libp.so)".into(), "on_run");
        let inner = Site::leak("consumer \"c\" (libc.so)".into(), "on_events");
        {
            let _outer = enter(outer);
            {
                let _inner = enter(inner);
                assert!(is_busy(inner) && !is_busy(outer));
            }
            assert!(is_busy(outer) && !is_busy(inner));
        }
        assert!(!is_busy(outer) && !is_busy(inner));
    }

    #[test]
    fn a_site_names_who_and_which_hook() {
        let site = Site::leak("consumer \"c\" (libc.so)".into(), "on_create");
        let _inside = enter(site);
        let line = busy().into_iter().find(|b| std::ptr::eq(b.site, site)).expect("busy").to_string();
        assert!(line.starts_with("consumer \"c\" (libc.so) is still in on_create after "), "{line}");
        assert_eq!(
            super::crash_note(),
            Some(&b" while consumer \"c\" (libc.so) was in on_create; the process dies of this signal\n"[..])
        );
    }
}
