//! A chunk: the log's own copy of one emitted batch. All strings and data of the batch live
//! in one arena, and the `evh_event` structs consumers receive point into it, so the copy is
//! made once at emit and delivery to any number of consumers copies nothing.
//!
//! The work is split between the two sides of the log, because on a small machine the
//! producer's thread is the bottleneck. The producer's side copies the bytes and writes a
//! 40-byte [`Record`] per event: where its id and data are, and which of the batch's
//! templates holds its other attributes (a producer's events usually share them all). The
//! first reader makes the 176-byte `evh_event`s from the records, numbered, once for every
//! consumer, on the side that has time to spare.
//!
//! Buffers are recycled, oldest first: a buffer the consumers' core read recently is still in
//! that core's cache, and every first store to one of its lines would be a read-for-ownership
//! from there. Aged buffers have left it, so the producer writes them without waiting for
//! another core. (docs/performance.md tells how each of these choices paid off.)

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::{Mutex, OnceLock};

use evh::{evh_attr, evh_bytes, evh_event, evh_str};
use evhost_abi as evh;

mod claim;
mod codec;

pub use claim::CLAIM_ALIGN;

/// One event as a producer handed it in, with UTF-8 already checked: the convenient form
/// for tests. (The loader builds chunks field by field.)
#[cfg(test)]
#[derive(Default)]
pub struct EventIn<'a> {
    pub id: &'a str,
    pub source: &'a str,
    pub specversion: &'a str,
    pub ty: &'a str,
    pub subject: &'a str,
    pub datacontenttype: &'a str,
    pub dataschema: &'a str,
    pub time: &'a str,
    pub data: &'a [u8],
}

/// The eight string attributes of an event, in a fixed order, to handle them in a loop.
pub fn strings(e: &evh_event) -> [evh_str; 8] {
    [e.id, e.source, e.specversion, e.r#type, e.subject, e.datacontenttype, e.dataschema, e.time]
}

/// The names of [`strings`], for messages.
pub const STRING_NAMES: [&str; 8] =
    ["id", "source", "specversion", "type", "subject", "datacontenttype", "dataschema", "time"];

/// An event with no attributes, sized for this host's ABI.
pub fn empty_event() -> evh_event {
    evh_event {
        struct_size: evh::struct_size::<evh_event>(),
        reserved: 0,
        seq: 0,
        id: evh_str::EMPTY,
        source: evh_str::EMPTY,
        specversion: evh_str::EMPTY,
        r#type: evh_str::EMPTY,
        subject: evh_str::EMPTY,
        datacontenttype: evh_str::EMPTY,
        dataschema: evh_str::EMPTY,
        time: evh_str::EMPTY,
        data: evh_bytes::EMPTY,
        extensions: std::ptr::null(),
        extensions_len: 0,
    }
}

/// Sets the eight string attributes of `e`, in the order of [`strings`].
pub fn set_strings(e: &mut evh_event, s: [evh_str; 8]) {
    [e.id, e.source, e.specversion, e.r#type, e.subject, e.datacontenttype, e.dataschema, e.time] = s;
}

/// An immutable, shared batch of events: event `i` has sequence number `first_seq + i`.
pub struct Chunk {
    pub first_seq: u64,
    /// When the log took the batch in, in milliseconds since the Unix epoch: the age of
    /// what a consumer has not had yet (kept on disk too).
    pub appended_ms: u64,
    /// The memory the events' views point into: the ids in `ids`, everything else in
    /// `arena`. Ids have a buffer of their own so that one pass checks all of them (see
    /// `ChunkBuilder::ids_are_ascii`).
    arena: Vec<u8>,
    ids: Vec<u8>,
    attrs: Vec<evh_attr>,
    /// The attributes events share; each record names one (`extensions` unused).
    templates: Vec<evh_event>,
    records: Vec<Record>,
    /// The number of events: `records.len()`, or for a claimed chunk (ABI 1.2) how many of
    /// its events the producer published.
    len: usize,
    /// The events consumers receive, made from the records by the first reader; a claimed
    /// chunk has them from the start, written by the producer (`claim.rs`).
    events: OnceLock<Vec<evh_event>>,
}

/// One event as the producer's side stores it.
#[derive(Clone, Copy)]
struct Record {
    /// The data is `arena[data_at..data_at + data_len]`.
    data_at: usize,
    data_len: usize,
    /// The id is `ids[id_at..id_at + id_len]`.
    id_at: usize,
    id_len: u32,
    /// Index into `templates`.
    template: u32,
    /// The event's extension attributes, `attrs[ext_start..ext_start + ext_len]`.
    ext_start: u32,
    ext_len: u32,
}

/// Buffers of dropped chunks, kept for the next ones: reusing them skips the allocator,
/// whose cross-thread frees contend (consumers drop what producers allocated). Taken oldest
/// first, and only once `POOL_AGE` are waiting, so that a buffer has left the consumers'
/// caches before the producer writes it again (see the module doc). Bounded.
static POOL: Mutex<VecDeque<Buffers>> = Mutex::new(VecDeque::new());
const POOL_SIZE: usize = 64;
const POOL_AGE: usize = 32;

/// Buffers for the events readers make, taken newest first: the reading side wrote and read
/// them last, so they are still in its cache. Bounded. They come back with their length, so
/// that a claim finds events already initialised (zeroing a 256-event claim would cost more
/// than its checks).
static EVENTS_POOL: Mutex<Vec<Vec<evh_event>>> = Mutex::new(Vec::new());
const EVENTS_POOL_SIZE: usize = 8;

/// The buffers of a chunk, emptied, with their capacity.
#[derive(Default)]
struct Buffers {
    arena: Vec<u8>,
    ids: Vec<u8>,
    attrs: Vec<evh_attr>,
    templates: Vec<evh_event>,
    records: Vec<Record>,
    /// A claimed chunk's events (`claim.rs`), aged with the rest: the producer writes them,
    /// so they must have left the consumers' caches too. Not cleared: a claim reuses them
    /// as they are.
    claimed: Vec<evh_event>,
}

impl Buffers {
    fn clear(&mut self) {
        self.arena.clear();
        self.ids.clear();
        self.attrs.clear();
        self.templates.clear();
        self.records.clear();
    }
}

impl Chunk {
    fn from_parts(
        arena: Vec<u8>,
        ids: Vec<u8>,
        attrs: Vec<evh_attr>,
        templates: Vec<evh_event>,
        records: Vec<Record>,
    ) -> Chunk {
        let len = records.len();
        Chunk { first_seq: 0, appended_ms: 0, arena, ids, attrs, templates, records, len, events: OnceLock::new() }
    }

    pub fn end_seq(&self) -> u64 {
        self.first_seq + self.len as u64
    }

    /// Its number of events.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The events with sequence numbers in `seqs`, which must lie within the chunk. The
    /// first call makes them.
    pub fn events(&self, seqs: Range<u64>) -> &[evh_event] {
        let events = self.events.get_or_init(|| self.make_events());
        &events[(seqs.start - self.first_seq) as usize..(seqs.end - self.first_seq) as usize]
    }

    fn make_events(&self) -> Vec<evh_event> {
        let mut events = EVENTS_POOL.lock().unwrap_or_else(|e| e.into_inner()).pop().unwrap_or_default();
        events.clear();
        events.reserve(self.records.len());
        let view = |buffer: &[u8], at: usize, len: usize| evh_str {
            ptr: if len == 0 { std::ptr::null() } else { buffer.as_ptr().wrapping_add(at) },
            len,
        };
        events.extend(self.records.iter().zip(self.first_seq..).map(|(r, seq)| {
            let data = view(&self.arena, r.data_at, r.data_len);
            evh_event {
                seq,
                id: view(&self.ids, r.id_at, r.id_len as usize),
                data: evh_bytes { ptr: data.ptr, len: data.len },
                extensions: if r.ext_len == 0 {
                    std::ptr::null()
                } else {
                    self.attrs.as_ptr().wrapping_add(r.ext_start as usize)
                },
                extensions_len: r.ext_len as usize,
                ..self.templates[r.template as usize]
            }
        }));
        events
    }

    /// Gives the events their sequence numbers, `first_seq` onwards. Only before the chunk
    /// is shared: the events are made with them.
    pub fn number(&mut self, first_seq: u64) {
        self.first_seq = first_seq;
        // A claimed chunk's events exist already (and nobody reads them yet): number them.
        if let Some(events) = self.events.get_mut() {
            for (event, seq) in events[..self.len].iter_mut().zip(first_seq..) {
                event.seq = seq;
            }
        }
    }

    /// The payload bytes the chunk holds, for the log's byte budget.
    pub fn bytes(&self) -> usize {
        self.arena.len() + self.ids.len()
    }

    /// Safe views of the events with sequence numbers in `seqs`.
    pub fn refs(&self, seqs: Range<u64>) -> impl Iterator<Item = EventRef<'_>> {
        self.events(seqs).iter().map(move |raw| EventRef { chunk: self, raw })
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        let claimed = self.is_claimed();
        let mut claimed_events = Vec::new();
        if let Some(events) = self.events.take() {
            if claimed {
                claimed_events = events;
            } else {
                let mut pool = EVENTS_POOL.lock().unwrap_or_else(|e| e.into_inner());
                if pool.len() < EVENTS_POOL_SIZE {
                    pool.push(events);
                }
            }
        }
        recycle(Buffers {
            arena: std::mem::take(&mut self.arena),
            ids: std::mem::take(&mut self.ids),
            attrs: std::mem::take(&mut self.attrs),
            templates: std::mem::take(&mut self.templates),
            records: std::mem::take(&mut self.records),
            claimed: claimed_events,
        });
    }
}

/// Puts a chunk's buffers back into the pool, if it has room. They keep their contents
/// (cleared when taken): a claim finds its bytes initialised.
fn recycle(buffers: Buffers) {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if pool.len() < POOL_SIZE {
        pool.push_back(buffers);
    }
}

/// Recycled buffers aged out of the consumers' caches, if there are enough to age.
fn take_aged() -> Option<Buffers> {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if pool.len() >= POOL_AGE {
        pool.pop_front()
    } else {
        None
    }
}

/// A safe view of one event of a chunk, for the host's own reading (dead letters, tests).
/// It resolves the event's pointers as offsets into the chunk's buffers, so no `unsafe` is
/// needed.
#[derive(Clone, Copy)]
pub struct EventRef<'a> {
    chunk: &'a Chunk,
    pub raw: &'a evh_event,
}

impl<'a> EventRef<'a> {
    fn bytes(&self, ptr: *const u8, len: usize) -> &'a [u8] {
        if len == 0 {
            return &[];
        }
        let within = |buffer: &'a [u8]| {
            let start = (ptr as usize).wrapping_sub(buffer.as_ptr() as usize);
            buffer.get(start..start.checked_add(len)?)
        };
        within(&self.chunk.arena).or_else(|| within(&self.chunk.ids)).unwrap_or_default()
    }

    fn text(&self, view: evh_str) -> &'a str {
        // The arena holds copies of strings that were checked to be UTF-8 at emit.
        std::str::from_utf8(self.bytes(view.ptr, view.len)).unwrap_or_default()
    }

    pub fn seq(&self) -> u64 {
        self.raw.seq
    }
    pub fn id(&self) -> &'a str {
        self.text(self.raw.id)
    }
    /// The id's bytes, without the UTF-8 check `id` makes (they were checked at emit):
    /// for copying many ids, as an isolated consumer's batch does.
    pub fn id_bytes(&self) -> &'a [u8] {
        self.bytes(self.raw.id.ptr, self.raw.id.len)
    }
    pub fn source(&self) -> &'a str {
        self.text(self.raw.source)
    }
    /// "1.0" when the producer left it empty, as the ABI says.
    pub fn specversion(&self) -> &'a str {
        match self.text(self.raw.specversion) {
            "" => "1.0",
            version => version,
        }
    }
    pub fn ty(&self) -> &'a str {
        self.text(self.raw.r#type)
    }
    pub fn subject(&self) -> &'a str {
        self.text(self.raw.subject)
    }
    pub fn datacontenttype(&self) -> &'a str {
        self.text(self.raw.datacontenttype)
    }
    pub fn dataschema(&self) -> &'a str {
        self.text(self.raw.dataschema)
    }
    pub fn time(&self) -> &'a str {
        self.text(self.raw.time)
    }
    pub fn data(&self) -> &'a [u8] {
        self.bytes(self.raw.data.ptr, self.raw.data.len)
    }

    /// The extension attributes as key/value pairs.
    pub fn extensions(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let this = *self;
        let claimed = self.chunk.claimed_extensions(self.raw);
        // Stored ones lie in the chunk's own array; a claimed event's, in the arena.
        let stored: &'a [evh_attr] = match claimed {
            None if self.raw.extensions_len > 0 => {
                let attrs = &self.chunk.attrs;
                let start = (self.raw.extensions as usize - attrs.as_ptr() as usize) / std::mem::size_of::<evh_attr>();
                &attrs[start..start + self.raw.extensions_len]
            }
            _ => &[],
        };
        claimed.into_iter().flatten().chain(stored.iter().copied()).map(move |a| (this.text(a.key), this.text(a.value)))
    }
}

/// Builds a chunk in its own (recycled) buffers. Views point at their final place in the
/// arena; if the batch outgrows the arena's reservation, `finish` moves them along.
pub struct ChunkBuilder {
    buffers: Buffers,
    /// Where the arena started when views were made.
    base: *const u8,
    /// The index of the template events are pushed with.
    template: u32,
}

impl ChunkBuilder {
    /// A builder for about `events` events, with about `id_bytes` bytes of ids and `bytes`
    /// bytes of everything else.
    pub fn with_capacity(events: usize, id_bytes: usize, bytes: usize) -> Self {
        let aged = if events == 0 { None } else { take_aged() };
        let mut buffers = aged.unwrap_or_default();
        buffers.clear();
        buffers.records.reserve(events);
        buffers.ids.reserve(id_bytes);
        buffers.arena.reserve(bytes);
        let base = buffers.arena.as_ptr();
        ChunkBuilder { buffers, base, template: 0 }
    }

    pub fn len(&self) -> usize {
        self.buffers.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buffers.records.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.buffers.arena.len() + self.buffers.ids.len()
    }

    /// Copies `bytes` in and returns a view of the copy, for a template's attributes or an
    /// extension attribute.
    #[inline]
    pub fn put(&mut self, bytes: &[u8]) -> evh_str {
        let start = self.buffers.arena.len();
        self.buffers.arena.extend_from_slice(bytes);
        if bytes.is_empty() {
            evh_str::EMPTY
        } else {
            evh_str { ptr: self.base.wrapping_add(start), len: bytes.len() }
        }
    }

    /// The bytes behind a view from [`put`](Self::put).
    pub fn view(&self, v: evh_str) -> &[u8] {
        if v.len == 0 {
            return &[];
        }
        let start = (v.ptr as usize).wrapping_sub(self.base as usize);
        &self.buffers.arena[start..start + v.len]
    }

    /// Sets the attributes of the events pushed from now on, all but id, data and
    /// extensions, as views from [`put`](Self::put).
    pub fn template(&mut self, attributes: &evh_event) {
        self.template = self.buffers.templates.len() as u32;
        self.buffers.templates.push(*attributes);
    }

    /// Adds an event with the current template's attributes and its own id and data, copied
    /// in one go: the hot path. The id is under 4 GiB (the config caps events at 1 GiB).
    #[inline(always)]
    pub fn push(&mut self, id: &[u8], data: &[u8]) {
        debug_assert!(!self.buffers.templates.is_empty(), "a template comes first");
        debug_assert!(u32::try_from(id.len()).is_ok(), "an id of 4 GiB or more");
        let (id_at, data_at) = (self.buffers.ids.len(), self.buffers.arena.len());
        self.buffers.ids.extend_from_slice(id);
        self.buffers.arena.extend_from_slice(data);
        self.buffers.records.push(Record {
            data_at,
            data_len: data.len(),
            id_at,
            id_len: id.len() as u32,
            template: self.template,
            ext_start: 0,
            ext_len: 0,
        });
    }

    /// True when every id pushed so far is ASCII, so UTF-8: one pass over all of them,
    /// which costs less than a check per short id.
    pub fn ids_are_ascii(&self) -> bool {
        self.buffers.ids.is_ascii()
    }

    /// The first event whose stored id is not UTF-8, with that id.
    pub fn first_non_utf8_id(&self) -> Option<(usize, &[u8])> {
        self.buffers.records.iter().enumerate().find_map(|(index, r)| {
            let id = &self.buffers.ids[r.id_at..r.id_at + r.id_len as usize];
            std::str::from_utf8(id).is_err().then_some((index, id))
        })
    }

    /// Gives the event pushed last the extension attributes of the one before it.
    pub fn share_extensions(&mut self) {
        if let [.., before, last] = &mut self.buffers.records[..] {
            (last.ext_start, last.ext_len) = (before.ext_start, before.ext_len);
        }
    }

    /// Adds an extension attribute (views from `put`) to the event pushed last.
    pub fn push_extension(&mut self, key: evh_str, value: evh_str) {
        let record = self.buffers.records.last_mut().expect("push comes first");
        if record.ext_len == 0 {
            record.ext_start = self.buffers.attrs.len() as u32;
        }
        record.ext_len += 1;
        self.buffers.attrs.push(evh_attr { key, value });
    }

    /// Copies a whole event in, with a template of its own; the convenient form of
    /// `template` and `push`, for tests.
    #[cfg(test)]
    pub fn push_event(&mut self, e: &EventIn<'_>) {
        let mut event = empty_event();
        let fields = ["", e.source, e.specversion, e.ty, e.subject, e.datacontenttype, e.dataschema, e.time];
        set_strings(&mut event, fields.map(|f| self.put(f.as_bytes())));
        self.template(&event);
        self.push(e.id.as_bytes(), e.data);
    }

    /// Freezes the batch; the log numbers it (`Chunk::number`) when it takes it in.
    pub fn finish(mut self) -> Chunk {
        let arena = self.buffers.arena.as_ptr();
        if arena != self.base {
            // The batch outgrew the arena's reservation: move the views to the same offsets
            // in the arena's new place. (Records hold offsets.)
            let base = self.base;
            let fix = |v: evh_str| match v.len {
                0 => v,
                len => evh_str { ptr: arena.wrapping_add(v.ptr.addr().wrapping_sub(base.addr())), len },
            };
            for attr in &mut self.buffers.attrs {
                *attr = evh_attr { key: fix(attr.key), value: fix(attr.value) };
            }
            for template in &mut self.buffers.templates {
                let fixed = strings(template).map(fix);
                set_strings(template, fixed);
            }
        }
        let Buffers { arena, ids, attrs, templates, records, .. } = std::mem::take(&mut self.buffers);
        Chunk::from_parts(arena, ids, attrs, templates, records)
    }
}

impl Drop for ChunkBuilder {
    /// A refused batch gives its buffers back. (`finish` leaves empty ones behind.)
    fn drop(&mut self) {
        let buffers = std::mem::take(&mut self.buffers);
        if buffers.arena.capacity() + buffers.records.capacity() > 0 {
            recycle(buffers);
        }
    }
}
