//! A chunk as bytes, for the disk log: its buffers written out as they are (the arena and
//! the ids in one copy each, the small tables as offsets), so that writing a batch costs
//! little more than a `memcpy`, and reading it back gives the same chunk.
//!
//! Layout, little-endian: four u32 counts (records, templates, attributes, 0), two u64
//! lengths (arena, ids), the arena, the ids, the templates (8 × offset/length each), the
//! extension attributes (key and value offset/length), the records (40 bytes each).
//! Offsets point into the arena; an empty view is (0, 0).

use evhost_abi::{evh_attr, evh_str};

use super::{empty_event, set_strings, strings, Chunk, Record};

impl Chunk {
    /// The length of what `encode` writes.
    pub fn encoded_len(&self) -> usize {
        32 + self.arena.len()
            + self.ids.len()
            + self.templates.len() * 128
            + self.attrs.len() * 32
            + self.records.len() * 40
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
        for r in &self.records {
            out.extend_from_slice(&(r.data_at as u64).to_le_bytes());
            out.extend_from_slice(&(r.data_len as u64).to_le_bytes());
            out.extend_from_slice(&(r.id_at as u64).to_le_bytes());
            for field in [r.id_len, r.template, r.ext_start, r.ext_len] {
                out.extend_from_slice(&field.to_le_bytes());
            }
        }
    }

    /// The chunk `encode` wrote, numbered from `first_seq`; None when the bytes are not one
    /// (every offset is checked, so even bytes that passed the CRC by chance cannot make a
    /// view outside the chunk).
    pub fn decode(bytes: &[u8], first_seq: u64) -> Option<Chunk> {
        let mut input = Input(bytes);
        let (records, templates, attrs) = (input.u32()? as usize, input.u32()? as usize, input.u32()? as usize);
        input.u32()?;
        let (arena_len, ids_len) = (input.u64()? as usize, input.u64()? as usize);
        let arena = input.take(arena_len)?.to_vec();
        let ids = input.take(ids_len)?.to_vec();
        // Counts are checked against what is left before anything is allocated for them.
        if templates.checked_mul(128)?.checked_add(attrs.checked_mul(32)?)?.checked_add(records.checked_mul(40)?)?
            != input.0.len()
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
        for _ in 0..records {
            let r = Record {
                data_at: input.u64()? as usize,
                data_len: input.u64()? as usize,
                id_at: input.u64()? as usize,
                id_len: input.u32()?,
                template: input.u32()?,
                ext_start: input.u32()?,
                ext_len: input.u32()?,
            };
            arena.get(r.data_at..r.data_at.checked_add(r.data_len)?)?;
            std::str::from_utf8(ids.get(r.id_at..r.id_at.checked_add(r.id_len as usize)?)?).ok()?;
            decoded_templates.get(r.template as usize)?;
            decoded_attrs.get(r.ext_start as usize..(r.ext_start as usize).checked_add(r.ext_len as usize)?)?;
            decoded_records.push(r);
        }
        let mut chunk = Chunk::from_parts(arena, ids, decoded_attrs, decoded_templates, decoded_records);
        chunk.number(first_seq);
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
    fn bytes_that_are_not_a_chunk_are_refused() {
        let mut builder = ChunkBuilder::with_capacity(1, 8, 64);
        builder.push_event(&EventIn { id: "a", source: "s", ty: "t", data: b"one", ..EventIn::default() });
        let chunk = builder.finish();
        let mut bytes = Vec::new();
        chunk.encode(&mut bytes);
        for cut in 0..bytes.len() {
            assert!(Chunk::decode(&bytes[..cut], 1).is_none(), "a prefix of {cut} bytes");
        }
        // An offset pointing past the arena.
        let mut bad = bytes.clone();
        let at = bad.len() - 40;
        bad[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(Chunk::decode(&bad, 1).is_none());
    }
}
