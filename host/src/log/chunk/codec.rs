//! A chunk as bytes, for the disk log: its buffers written out as they are (the arena and
//! the ids in one copy each, the small tables as offsets), so that writing a batch costs
//! little more than a `memcpy`, and reading it back gives the same chunk.
//!
//! Layout, little-endian: four u32 counts (records, templates, attributes, 0), three u64
//! (arena length, ids length, when it was appended in ms since the epoch), the arena, the ids, the templates (8 × offset/length each), the
//! extension attributes (key and value offset/length), then the records. Offsets point into
//! the arena; an empty view is (0, 0).
//!
//! A record is a few varints, about 5 bytes for a typical event instead of its 40 in
//! memory: the disk's bandwidth is what the disk log waits for, and most of a record follows
//! from the one before. Its id comes right after the previous id (ids are pushed in order),
//! so only the length is stored; its data's offset is stored as the distance from the end of
//! the previous event's data (0 unless attributes were stored between them), its template as
//! the difference from the previous one, and its extensions' start only when it has some.

use evhost_abi::{evh_attr, evh_str};

use super::{empty_event, set_strings, strings, Chunk, Record};

impl Chunk {
    /// The length of what `encode` writes.
    pub fn encoded_len(&self) -> usize {
        let mut records = 0;
        self.each_record_field(|field| records += varint_len(field));
        40 + self.arena.len() + self.ids.len() + self.templates.len() * 128 + self.attrs.len() * 32 + records
    }

    /// The varints of every record, in order (see the module doc).
    #[inline]
    fn each_record_field(&self, mut field: impl FnMut(u64)) {
        let (mut data_end, mut template) = (0u64, 0u64);
        for r in &self.records {
            field(r.id_len as u64);
            field(zigzag(r.data_at as u64, data_end));
            field(r.data_len as u64);
            field(zigzag(r.template as u64, template));
            field(r.ext_len as u64);
            if r.ext_len > 0 {
                field(r.ext_start as u64);
            }
            data_end = (r.data_at + r.data_len) as u64;
            template = r.template as u64;
        }
    }

    /// Appends the chunk's bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let arena = self.arena.as_ptr() as usize;
        let offset =
            |v: evh_str| if v.len == 0 { (0u64, 0u64) } else { ((v.ptr as usize - arena) as u64, v.len as u64) };
        let counts = [self.records.len() as u32, self.templates.len() as u32, self.attrs.len() as u32, 0];
        out.reserve(self.encoded_len());
        counts.iter().for_each(|c| out.extend_from_slice(&c.to_le_bytes()));
        out.extend_from_slice(&(self.arena.len() as u64).to_le_bytes());
        out.extend_from_slice(&(self.ids.len() as u64).to_le_bytes());
        out.extend_from_slice(&self.appended_ms.to_le_bytes());
        out.extend_from_slice(&self.arena);
        out.extend_from_slice(&self.ids);
        let mut view = |v: evh_str| {
            let (at, len) = offset(v);
            out.extend_from_slice(&at.to_le_bytes());
            out.extend_from_slice(&len.to_le_bytes());
        };
        for template in &self.templates {
            strings(template).into_iter().for_each(&mut view);
        }
        for attr in &self.attrs {
            view(attr.key);
            view(attr.value);
        }
        debug_assert!(
            self.records
                .iter()
                .scan(0, |at, r| Some(std::mem::replace(at, r.id_at + r.id_len as usize) == r.id_at))
                .all(|in_order| in_order),
            "ids are stored in order"
        );
        self.each_record_field(|field| put_varint(out, field));
    }

    /// The chunk `encode` wrote, numbered from `first_seq`; None when the bytes are not one
    /// (every offset is checked, so even bytes that passed the CRC by chance cannot make a
    /// view outside the chunk).
    pub fn decode(bytes: &[u8], first_seq: u64) -> Option<Chunk> {
        let mut input = Input(bytes);
        let (records, templates, attrs) = (input.u32()? as usize, input.u32()? as usize, input.u32()? as usize);
        input.u32()?;
        let (arena_len, ids_len, appended_ms) = (input.u64()? as usize, input.u64()? as usize, input.u64()?);
        let arena = input.take(arena_len)?.to_vec();
        let ids = input.take(ids_len)?.to_vec();
        // Counts are checked against what is left before anything is allocated for them: a
        // record takes at least 5 bytes.
        if templates.checked_mul(128)?.checked_add(attrs.checked_mul(32)?)?.checked_add(records.checked_mul(5)?)?
            > input.0.len()
        {
            return None;
        }
        let base = arena.as_ptr();
        let view = |input: &mut Input| -> Option<evh_str> {
            let (at, len) = (input.u64()? as usize, input.u64()? as usize);
            if len == 0 {
                return Some(evh_str::EMPTY);
            }
            arena.get(at..at.checked_add(len)?)?;
            Some(evh_str { ptr: base.wrapping_add(at), len })
        };
        let mut decoded_templates = Vec::with_capacity(templates);
        for _ in 0..templates {
            let mut event = empty_event();
            let mut fields = [evh_str::EMPTY; 8];
            for field in &mut fields {
                *field = view(&mut input)?;
            }
            set_strings(&mut event, fields);
            decoded_templates.push(event);
        }
        let mut decoded_attrs = Vec::with_capacity(attrs);
        for _ in 0..attrs {
            decoded_attrs.push(evh_attr { key: view(&mut input)?, value: view(&mut input)? });
        }
        let mut decoded_records = Vec::with_capacity(records);
        let (mut id_at, mut data_end, mut template) = (0usize, 0u64, 0u64);
        for _ in 0..records {
            let id_len = u32::try_from(input.varint()?).ok()?;
            let data_at = unzigzag(input.varint()?, data_end)?;
            let data_len = input.varint()?;
            template = unzigzag(input.varint()?, template)?;
            let ext_len = u32::try_from(input.varint()?).ok()?;
            let ext_start = if ext_len > 0 { u32::try_from(input.varint()?).ok()? } else { 0 };
            let r = Record {
                data_at: usize::try_from(data_at).ok()?,
                data_len: usize::try_from(data_len).ok()?,
                id_at,
                id_len,
                template: u32::try_from(template).ok()?,
                ext_start,
                ext_len,
            };
            arena.get(r.data_at..r.data_at.checked_add(r.data_len)?)?;
            std::str::from_utf8(ids.get(r.id_at..r.id_at.checked_add(r.id_len as usize)?)?).ok()?;
            decoded_templates.get(r.template as usize)?;
            decoded_attrs.get(r.ext_start as usize..(r.ext_start as usize).checked_add(r.ext_len as usize)?)?;
            id_at += id_len as usize;
            data_end = data_at + data_len;
            decoded_records.push(r);
        }
        if !input.0.is_empty() {
            return None;
        }
        let mut chunk = Chunk::from_parts(arena, ids, decoded_attrs, decoded_templates, decoded_records);
        chunk.number(first_seq);
        chunk.appended_ms = appended_ms;
        Some(chunk)
    }
}

/// Bytes still to read.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    /// An LEB128 varint of at most 10 bytes.
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.take(1)?.first()?;
            value |= u64::from(byte & 0x7f).checked_shl(shift)?;
            if byte < 0x80 {
                return Some(value);
            }
        }
        None
    }
}

fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// `value - base`, as an unsigned varint-friendly number (small either way).
fn zigzag(value: u64, base: u64) -> u64 {
    let delta = value.wrapping_sub(base) as i64;
    ((delta << 1) ^ (delta >> 63)) as u64
}

/// The `value` that `zigzag(value, base)` gave `encoded`, if it is a valid one.
fn unzigzag(encoded: u64, base: u64) -> Option<u64> {
    let delta = ((encoded >> 1) as i64) ^ -((encoded & 1) as i64);
    base.checked_add_signed(delta)
}

#[cfg(test)]
mod tests {
    use super::super::{ChunkBuilder, EventIn};
    use super::*;

    #[test]
    fn a_chunk_comes_back_as_it_was_written() {
        let mut builder = ChunkBuilder::with_capacity(2, 8, 64);
        builder.push_event(&EventIn { id: "a", source: "s", ty: "t", data: b"one", ..EventIn::default() });
        builder.push_event(&EventIn { id: "b", source: "s2", ty: "t", subject: "x", data: b"", ..EventIn::default() });
        let k = builder.put(b"traceid");
        let v = builder.put(b"42");
        builder.push_extension(k, v);
        let mut chunk = builder.finish();
        chunk.number(7);
        let mut bytes = Vec::new();
        chunk.encode(&mut bytes);
        let back = Chunk::decode(&bytes, 7).expect("decodes");
        let pairs = |c: &Chunk| {
            c.refs(7..9)
                .map(|e| {
                    (
                        e.seq(),
                        e.id().to_owned(),
                        e.source().to_owned(),
                        e.subject().to_owned(),
                        e.data().to_vec(),
                        e.extensions().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(pairs(&back), pairs(&chunk));
        assert_eq!(pairs(&back)[1].5, vec!["traceid=42".to_string()]);
    }

    #[test]
    fn long_fields_shared_templates_and_extensions_survive_the_varints() {
        let mut builder = ChunkBuilder::with_capacity(300, 0, 0);
        let data: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
        for i in 0..300usize {
            let id = format!("event-{i}-{}", "x".repeat(i % 200));
            let source = if i % 7 == 0 { "/other" } else { "/s" };
            builder.push_event(&EventIn {
                id: &id,
                source,
                ty: "t",
                data: &data[..(i * 233) % data.len()],
                ..EventIn::default()
            });
            if i % 3 == 0 {
                let (k, v) = (builder.put(b"n"), builder.put(i.to_string().as_bytes()));
                builder.push_extension(k, v);
            }
        }
        let mut chunk = builder.finish();
        chunk.number(1000);
        let mut bytes = Vec::new();
        chunk.encode(&mut bytes);
        assert_eq!(bytes.len(), chunk.encoded_len());
        let back = Chunk::decode(&bytes, 1000).expect("decodes");
        let view = |c: &Chunk| {
            c.refs(1000..1300)
                .map(|e| {
                    (
                        e.id().to_owned(),
                        e.source().to_owned(),
                        e.data().to_vec(),
                        e.extensions().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert!(view(&back) == view(&chunk));
    }

    #[test]
    fn bytes_that_are_not_a_chunk_are_refused() {
        let mut builder = ChunkBuilder::with_capacity(1, 8, 64);
        builder.push_event(&EventIn { id: "a", source: "s", ty: "t", data: b"one", ..EventIn::default() });
        let chunk = builder.finish();
        let mut bytes = Vec::new();
        chunk.encode(&mut bytes);
        for cut in 0..bytes.len() {
            assert!(Chunk::decode(&bytes[..cut], 1).is_none(), "a prefix of {cut} bytes");
        }
        // A data offset pointing past the arena: the record's second varint.
        let mut bad = bytes.clone();
        let at = bad.len() - 4;
        bad[at] = 0x7e;
        assert!(Chunk::decode(&bad, 1).is_none());
        // Trailing bytes.
        let mut long = bytes.clone();
        long.push(0);
        assert!(Chunk::decode(&long, 1).is_none());
    }
}
