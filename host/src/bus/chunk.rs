//! A chunk: the log's own copy of one emitted batch. All strings and data of the batch live
//! in one arena, and the `evh_event` structs consumers receive point into it, so the copy is
//! made once at emit and delivery to any number of consumers copies nothing.

use std::ops::Range;
use std::sync::Mutex;

use evh::{evh_attr, evh_bytes, evh_event, evh_str};
use evhost_abi as evh;

/// One event as a producer handed it in, with UTF-8 already checked. (The loader builds
/// chunks field by field; this is the convenient form for everyone else.)
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
pub const STRING_NAMES: [&str; 8] = ["id", "source", "specversion", "type", "subject", "datacontenttype", "dataschema", "time"];

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

/// An immutable, shared batch of events: `events[i]` has sequence number `first_seq + i`.
pub struct Chunk {
    pub first_seq: u64,
    events: Vec<evh_event>,
    /// The memory `events` points into.
    arena: Arena,
    attrs: Vec<evh_attr>,
}

/// Bytes in blocks that never move: a block is filled up to its capacity and never grown, so
/// a pointer into it stays valid while more is written, and events get their final
/// pointers as they are built.
#[derive(Default)]
struct Arena {
    blocks: Vec<Vec<u8>>,
    bytes: usize,
}

/// The size of a fresh block; larger values get a block of their own size.
const BLOCK: usize = 64 * 1024;

/// Memory of dropped chunks, kept for the next ones: reusing what was just freed keeps the
/// hot path in cache and out of the allocator (whose cross-thread frees contend). Bounded,
/// so it never holds more than a few chunks' worth.
static POOL: Mutex<Vec<Parts>> = Mutex::new(Vec::new());
const POOL_SIZE: usize = 16;

/// A chunk's buffers, emptied, with their capacity.
struct Parts {
    events: Vec<evh_event>,
    blocks: Vec<Vec<u8>>,
    attrs: Vec<evh_attr>,
}

fn recycled() -> Option<Parts> {
    POOL.lock().unwrap_or_else(|e| e.into_inner()).pop()
}

impl Arena {
    /// An arena with room for `bytes` in its first block, in `blocks` if they are big enough.
    fn with_capacity(bytes: usize, mut blocks: Vec<Vec<u8>>) -> Self {
        blocks.truncate(1);
        if blocks.first().is_some_and(|b| b.capacity() < bytes) {
            blocks.clear();
        }
        if blocks.is_empty() && bytes > 0 {
            blocks.push(Vec::with_capacity(bytes.max(BLOCK)));
        }
        Arena { blocks, bytes: 0 }
    }

    /// Copies `bytes` in and returns where the copy starts.
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> *const u8 {
        let fits = self.blocks.last().is_some_and(|b| b.capacity() - b.len() >= bytes.len());
        if !fits {
            self.blocks.push(Vec::with_capacity(bytes.len().max(BLOCK)));
        }
        let block = self.blocks.last_mut().expect("a block with room exists now");
        let start = block.len();
        // Within capacity: the block does not reallocate, so earlier pointers stay valid.
        block.extend_from_slice(bytes);
        self.bytes += bytes.len();
        block.as_ptr().wrapping_add(start)
    }

    /// Copies `a` and then `b` in, back to back, and returns where `a` starts.
    #[inline]
    fn put2(&mut self, a: &[u8], b: &[u8]) -> *const u8 {
        let len = a.len() + b.len();
        if !self.blocks.last().is_some_and(|block| block.capacity() - block.len() >= len) {
            self.blocks.push(Vec::with_capacity(len.max(BLOCK)));
        }
        let block = self.blocks.last_mut().expect("a block with room exists now");
        let start = block.len();
        // Within capacity: the block does not reallocate (see `put`).
        block.extend_from_slice(a);
        block.extend_from_slice(b);
        self.bytes += len;
        block.as_ptr().wrapping_add(start)
    }

    /// The bytes at `ptr..ptr + len`, which `put` returned.
    fn get(&self, ptr: *const u8, len: usize) -> &[u8] {
        let address = ptr as usize;
        self.blocks
            .iter()
            .find_map(|b| {
                let start = address.checked_sub(b.as_ptr() as usize)?;
                b.get(start..start + len)
            })
            .unwrap_or_default()
    }
}

impl Chunk {
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn end_seq(&self) -> u64 {
        self.first_seq + self.events.len() as u64
    }

    /// The events with sequence numbers in `seqs`, which must lie within the chunk.
    pub fn events(&self, seqs: Range<u64>) -> &[evh_event] {
        &self.events[(seqs.start - self.first_seq) as usize..(seqs.end - self.first_seq) as usize]
    }

    /// Gives the events their sequence numbers, `first_seq` onwards.
    pub fn number(&mut self, first_seq: u64) {
        self.first_seq = first_seq;
        for (i, event) in self.events.iter_mut().enumerate() {
            event.seq = first_seq + i as u64;
        }
    }

    /// The payload bytes the chunk holds, for the log's byte budget.
    pub fn bytes(&self) -> usize {
        self.arena.bytes
    }

    /// Safe views of the events with sequence numbers in `seqs`.
    pub fn refs(&self, seqs: Range<u64>) -> impl Iterator<Item = EventRef<'_>> {
        self.events(seqs).iter().map(move |raw| EventRef { chunk: self, raw })
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL_SIZE {
            let mut parts = Parts {
                events: std::mem::take(&mut self.events),
                blocks: std::mem::take(&mut self.arena.blocks),
                attrs: std::mem::take(&mut self.attrs),
            };
            parts.events.clear();
            parts.attrs.clear();
            parts.blocks.iter_mut().for_each(Vec::clear);
            pool.push(parts);
        }
    }
}

/// A safe view of one event of a chunk, for the host's own reading (dead letters, tests).
/// It resolves the event's pointers as offsets into the chunk's arena, so no `unsafe` is
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
        self.chunk.arena.get(ptr, len)
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
    pub fn extensions(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        let attrs = &self.chunk.attrs;
        let start = if self.raw.extensions_len == 0 {
            0
        } else {
            (self.raw.extensions as usize - attrs.as_ptr() as usize) / std::mem::size_of::<evh_attr>()
        };
        attrs[start..start + self.raw.extensions_len].iter().map(|a| (self.text(a.key), self.text(a.value)))
    }
}

/// Builds a chunk: bytes are copied into the arena and events get their final pointers as
/// they are built, so each event is written once.
pub struct ChunkBuilder {
    arena: Arena,
    events: Vec<evh_event>,
    attrs: Vec<evh_attr>,
}

impl ChunkBuilder {
    pub fn with_capacity(events: usize, bytes: usize) -> Self {
        let parts = recycled().unwrap_or(Parts { events: Vec::new(), blocks: Vec::new(), attrs: Vec::new() });
        let mut buffer = parts.events;
        buffer.reserve(events);
        ChunkBuilder { arena: Arena::with_capacity(bytes, parts.blocks), events: buffer, attrs: parts.attrs }
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.arena.bytes
    }

    /// Copies `bytes` into the arena and returns a view of the copy, for an event given to
    /// [`push`](Self::push). Views may be shared by several events of the chunk.
    #[inline]
    pub fn put(&mut self, bytes: &[u8]) -> evh_str {
        if bytes.is_empty() {
            return evh_str::EMPTY;
        }
        evh_str { ptr: self.arena.put(bytes), len: bytes.len() }
    }

    /// Copies an event's id and data in one go (the two that differ from event to event).
    #[inline]
    pub fn put_pair(&mut self, id: &[u8], data: &[u8]) -> (evh_str, evh_bytes) {
        let start = self.arena.put2(id, data);
        let id_view = if id.is_empty() { evh_str::EMPTY } else { evh_str { ptr: start, len: id.len() } };
        let data_view = if data.is_empty() { evh_bytes::EMPTY } else { evh_bytes { ptr: start.wrapping_add(id.len()), len: data.len() } };
        (id_view, data_view)
    }

    /// The bytes behind a view from [`put`](Self::put).
    pub fn view(&self, v: evh_str) -> &[u8] {
        if v.len == 0 {
            return &[];
        }
        self.arena.get(v.ptr, v.len)
    }

    /// Adds an event whose views came from [`put`](Self::put); its extensions follow with
    /// [`push_extension`](Self::push_extension).
    pub fn push(&mut self, mut event: evh_event) {
        event.extensions = std::ptr::null();
        event.extensions_len = 0;
        self.events.push(event);
    }

    /// Adds an extension attribute (views from `put`) to the event pushed last.
    pub fn push_extension(&mut self, key: evh_str, value: evh_str) {
        let event = self.events.last_mut().expect("push comes first");
        if event.extensions_len == 0 {
            // Until `finish`, this holds the index of the event's first attribute: the list
            // may still move as it grows.
            event.extensions = std::ptr::without_provenance(self.attrs.len());
        }
        event.extensions_len += 1;
        self.attrs.push(evh_attr { key, value });
    }

    /// Copies a whole event in; the convenient form of `put` and `push`.
    pub fn push_event(&mut self, e: &EventIn<'_>) {
        let mut event = empty_event();
        let fields = [e.id, e.source, e.specversion, e.ty, e.subject, e.datacontenttype, e.dataschema, e.time];
        set_strings(&mut event, fields.map(|f| self.put(f.as_bytes())));
        let data = self.put(e.data);
        event.data = evh_bytes { ptr: data.ptr, len: data.len };
        self.push(event);
    }

    /// Freezes the batch; the log numbers it (`Chunk::number`) when it takes it in.
    pub fn finish(mut self) -> Chunk {
        let attrs = self.attrs.as_ptr();
        if !self.attrs.is_empty() {
            for event in self.events.iter_mut().filter(|e| e.extensions_len > 0) {
                event.extensions = attrs.wrapping_add(event.extensions as usize);
            }
        }
        Chunk { first_seq: 0, events: self.events, arena: self.arena, attrs: self.attrs }
    }
}
