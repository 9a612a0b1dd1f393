//! A chunk: the log's own copy of one emitted batch. All strings and data of the batch live
//! in one arena, and the `evh_event` structs consumers receive point into it, so the copy is
//! made once at emit and delivery to any number of consumers copies nothing.

use evh::{evh_attr, evh_bytes, evh_event, evh_str};
use evhost_abi as evh;
use std::ops::Range;

/// One event as a producer handed it in, with UTF-8 already checked.
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

impl EventIn<'_> {
    /// The bytes this event takes in the arena, extensions aside.
    pub fn size(&self) -> usize {
        [self.id, self.source, self.specversion, self.ty, self.subject, self.datacontenttype, self.dataschema, self.time]
            .iter()
            .map(|s| s.len())
            .sum::<usize>()
            + self.data.len()
    }
}

/// An immutable, shared batch of events: `events[i]` has sequence number `first_seq + i`.
pub struct Chunk {
    pub first_seq: u64,
    events: Vec<evh_event>,
    /// The memory `events` points into.
    arena: Vec<u8>,
    attrs: Vec<evh_attr>,
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
        let start = ptr as usize - self.chunk.arena.as_ptr() as usize;
        &self.chunk.arena[start..start + len]
    }

    fn text(&self, view: evh_str) -> &'a str {
        // The arena holds copies of strings that were checked to be UTF-8 at emit.
        std::str::from_utf8(self.bytes(view.ptr, view.len)).unwrap_or_default()
    }

    pub fn seq(&self) -> u64 { self.raw.seq }
    pub fn id(&self) -> &'a str { self.text(self.raw.id) }
    pub fn source(&self) -> &'a str { self.text(self.raw.source) }
    pub fn specversion(&self) -> &'a str { self.text(self.raw.specversion) }
    pub fn ty(&self) -> &'a str { self.text(self.raw.r#type) }
    pub fn subject(&self) -> &'a str { self.text(self.raw.subject) }
    pub fn datacontenttype(&self) -> &'a str { self.text(self.raw.datacontenttype) }
    pub fn dataschema(&self) -> &'a str { self.text(self.raw.dataschema) }
    pub fn time(&self) -> &'a str { self.text(self.raw.time) }
    pub fn data(&self) -> &'a [u8] { self.bytes(self.raw.data.ptr, self.raw.data.len) }

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

impl Chunk {
    pub fn len(&self) -> usize {
        self.events.len()
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
        self.arena.len()
    }

    /// Safe views of the events with sequence numbers in `seqs`.
    pub fn refs(&self, seqs: Range<u64>) -> impl Iterator<Item = EventRef<'_>> {
        self.events(seqs).iter().map(move |raw| EventRef { chunk: self, raw })
    }
}

/// Builds a chunk. Views are recorded as offsets while the arena grows and turned into
/// pointers once, in `finish`, so that the arena may reallocate while being filled.
pub struct ChunkBuilder {
    arena: Vec<u8>,
    events: Vec<[Range<usize>; 9]>,
    attr_ranges: Vec<Range<usize>>,
    attrs: Vec<[Range<usize>; 2]>,
}

impl ChunkBuilder {
    pub fn with_capacity(events: usize, bytes: usize) -> Self {
        ChunkBuilder {
            arena: Vec::with_capacity(bytes),
            events: Vec::with_capacity(events),
            attr_ranges: Vec::with_capacity(events),
            attrs: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn bytes(&self) -> usize {
        self.arena.len()
    }

    fn put(&mut self, bytes: &[u8]) -> Range<usize> {
        let start = self.arena.len();
        self.arena.extend_from_slice(bytes);
        start..self.arena.len()
    }

    /// Appends one event; its extensions follow with `push_extension`.
    pub fn push_event(&mut self, e: &EventIn<'_>) {
        let specversion = if e.specversion.is_empty() { "1.0" } else { e.specversion };
        let fields = [e.id, e.source, specversion, e.ty, e.subject, e.datacontenttype, e.dataschema, e.time];
        let ranges = [
            self.put(fields[0].as_bytes()),
            self.put(fields[1].as_bytes()),
            self.put(fields[2].as_bytes()),
            self.put(fields[3].as_bytes()),
            self.put(fields[4].as_bytes()),
            self.put(fields[5].as_bytes()),
            self.put(fields[6].as_bytes()),
            self.put(fields[7].as_bytes()),
            self.put(e.data),
        ];
        self.events.push(ranges);
        self.attr_ranges.push(self.attrs.len()..self.attrs.len());
    }

    /// Adds an extension attribute to the event pushed last.
    pub fn push_extension(&mut self, key: &str, value: &str) {
        let pair = [self.put(key.as_bytes()), self.put(value.as_bytes())];
        self.attrs.push(pair);
        self.attr_ranges.last_mut().expect("push_event comes first").end += 1;
    }

    /// Freezes the batch; the log numbers it with `number` when it takes it in.
    pub fn finish(self) -> Chunk {
        let first_seq = 0;
        let base = self.arena.as_ptr();
        let view = |r: &Range<usize>| evh_str { ptr: base.wrapping_add(r.start), len: r.len() };
        let attrs: Vec<evh_attr> = self.attrs.iter().map(|[k, v]| evh_attr { key: view(k), value: view(v) }).collect();
        let events = self
            .events
            .iter()
            .zip(&self.attr_ranges)
            .enumerate()
            .map(|(i, (f, a))| evh_event {
                struct_size: evh::struct_size::<evh_event>(),
                reserved: 0,
                seq: first_seq + i as u64,
                id: view(&f[0]),
                source: view(&f[1]),
                specversion: view(&f[2]),
                r#type: view(&f[3]),
                subject: view(&f[4]),
                datacontenttype: view(&f[5]),
                dataschema: view(&f[6]),
                time: view(&f[7]),
                data: evh_bytes { ptr: base.wrapping_add(f[8].start), len: f[8].len() },
                extensions: if a.is_empty() { std::ptr::null() } else { attrs.as_ptr().wrapping_add(a.start) },
                extensions_len: a.len(),
            })
            .collect();
        Chunk { first_seq, events, arena: self.arena, attrs }
    }
}
