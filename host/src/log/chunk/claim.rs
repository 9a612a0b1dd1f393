//! Claimed chunks (ABI 1.2, `evh_host_api.claim`): a chunk whose events and bytes a producer
//! writes in place, in the form consumers read, so that publishing it copies nothing. The
//! events are `evh_event`s from the start (no records, no templates), and every view points
//! into the chunk's arena, which the loader checks before the log takes the chunk.
//!
//! The buffers come from the same pool as a built chunk's and go back to it, aged out of the
//! consumers' caches (the producer writes all of them), events included. They come back
//! with their contents, so a claim rarely has anything to zero.

use evhost_abi::{evh_attr, evh_event, evh_str};

use super::{empty_event, take_aged, Buffers, Chunk};

/// The alignment `evh_claim.bytes` promises: an extension array written there needs 8.
pub const CLAIM_ALIGN: usize = 16;

impl Chunk {
    /// Room for `events` events and `bytes` bytes; nothing published yet.
    pub fn claimed(events: usize, bytes: usize) -> Chunk {
        let mut buffers = take_aged().unwrap_or_default();
        let mut arena = std::mem::take(&mut buffers.arena);
        buffers.clear();
        // The allocator gives 16-byte alignment for buffers this size; should it not, a
        // fresh buffer is asked for. Bytes beyond the old length are zeroed once.
        if !(arena.as_ptr() as usize).is_multiple_of(CLAIM_ALIGN) {
            arena = Vec::new();
        }
        if arena.len() < bytes {
            arena.resize(bytes, 0);
        }
        arena.truncate(bytes);
        let mut list = std::mem::take(&mut buffers.claimed);
        if list.len() < events {
            list.resize(events, empty_event());
        }
        list.truncate(events);
        let Buffers { ids, attrs, templates, records, .. } = buffers;
        Chunk { first_seq: 0, appended_ms: 0, arena, ids, attrs, templates, records, len: 0, events: list.into() }
    }

    /// Where the producer writes: its events and its bytes, with their lengths. The
    /// pointers stay valid as long as the chunk (its buffers never grow).
    pub fn room(&mut self) -> (*mut evh_event, usize, *mut u8, usize) {
        let events = self.events.get_mut().expect("a claimed chunk has its events");
        (events.as_mut_ptr(), events.len(), self.arena.as_mut_ptr(), self.arena.len())
    }

    /// The claimed events as the producer wrote them, published or not.
    pub fn written(&self) -> &[evh_event] {
        self.events.get().map_or(&[], Vec::as_slice)
    }

    /// The bytes at address `addr`, `len` long, if they lie inside the arena (a claimed
    /// chunk's views must).
    pub fn in_arena(&self, addr: usize, len: usize) -> Option<&[u8]> {
        let start = self.arena_offset(addr, len)?;
        Some(&self.arena[start..start + len])
    }

    /// Where the `len` bytes at address `addr` start in the arena, if they lie inside it.
    pub fn arena_offset(&self, addr: usize, len: usize) -> Option<usize> {
        let start = addr.wrapping_sub(self.arena.as_ptr() as usize);
        (start.checked_add(len)? <= self.arena.len()).then_some(start)
    }

    /// The extension attribute stored at arena offset `at` (8-aligned, inside the arena) as
    /// plain addresses and lengths: key address, key length, value address, value length.
    pub fn attr_at(&self, at: usize) -> [usize; 4] {
        let word = |k: usize| {
            let start = at + k * std::mem::size_of::<usize>();
            usize::from_ne_bytes(self.arena[start..start + std::mem::size_of::<usize>()].try_into().expect("a word"))
        };
        [word(0), word(1), word(2), word(3)]
    }

    /// Makes the first `n` claimed events the chunk's events.
    pub fn publish(&mut self, n: usize) {
        debug_assert!(n <= self.written().len());
        self.len = n;
    }

    /// True for a claimed chunk: its events were written in place, and it has no records
    /// for the disk log's codec.
    pub fn is_claimed(&self) -> bool {
        self.records.is_empty() && self.events.get().is_some()
    }

    /// The extension attributes of a claimed event, when its array lies in the arena: read
    /// one by one as they are asked for, so that encoding a batch allocates nothing per event.
    pub(super) fn claimed_extensions(&self, raw: &evh_event) -> Option<impl Iterator<Item = evh_attr> + '_> {
        let size = std::mem::size_of::<evh_attr>();
        let at = self.arena_offset(raw.extensions as usize, raw.extensions_len.checked_mul(size)?)?;
        let view = move |addr: usize, len: usize| match len {
            0 => evh_str::EMPTY,
            _ => {
                evh_str { ptr: self.arena.as_ptr().wrapping_add(addr.wrapping_sub(self.arena.as_ptr() as usize)), len }
            }
        };
        Some((0..raw.extensions_len).map(move |i| {
            let [key, key_len, value, value_len] = self.attr_at(at + i * size);
            evh_attr { key: view(key, key_len), value: view(value, value_len) }
        }))
    }
}
