//! A batch of events as bytes, between host and worker, both ways: a consumer's batch to its
//! worker, a producer's checked batch back to the host. The receiving side rebuilds it with
//! the log's own [`ChunkBuilder`], so a plugin sees the same `evh_event`s isolated or not.
//!
//! Per event: a flag byte (bit 0: its attributes differ from the event before, and follow;
//! bit 1: it has extension attributes), then the id and the data, each a varint length and
//! the bytes. The attributes, when they follow, are the seven strings after the id in the
//! order of `crate::log::strings`; extensions are a varint count and key/value pairs. A
//! producer's events usually share all attributes but id and data, so a typical event
//! costs its id, its data and three bytes.
//!
//! Why not the disk log's chunk codec: a consumer's batch starts anywhere in a chunk and
//! may span several, and encoding whole chunks again for every isolated consumer would copy
//! more than the batch.

use evhost_abi::evh_event;

use crate::log::{empty_event, set_strings, strings, ChunkBuilder, EventRef};

const NEW_ATTRIBUTES: u8 = 1;
const EXTENSIONS: u8 = 2;

/// Appends `events` to `out`.
pub fn encode<'a>(events: impl Iterator<Item = EventRef<'a>>, out: &mut Vec<u8>) {
    let mut previous: Option<&evh_event> = None;
    for event in events {
        let raw = event.raw;
        // Events of one template share the same views: comparing them is enough.
        let same = previous.is_some_and(|p| {
            strings(p).iter().zip(strings(raw).iter()).skip(1).all(|(a, b)| a.ptr == b.ptr && a.len == b.len)
        });
        let mut flags = if same { 0 } else { NEW_ATTRIBUTES };
        if raw.extensions_len > 0 {
            flags |= EXTENSIONS;
        }
        out.push(flags);
        put(out, event.id_bytes());
        put(out, event.data());
        if !same {
            for text in [
                event.source(),
                // As stored: empty means "1.0", and the plugin sees it empty either way.
                if raw.specversion.len == 0 { "" } else { event.specversion() },
                event.ty(),
                event.subject(),
                event.datacontenttype(),
                event.dataschema(),
                event.time(),
            ] {
                put(out, text.as_bytes());
            }
        }
        if raw.extensions_len > 0 {
            varint(out, raw.extensions_len as u64);
            for (key, value) in event.extensions() {
                put(out, key.as_bytes());
                put(out, value.as_bytes());
            }
        }
        previous = Some(raw);
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[inline]
fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Bytes still to read.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    /// A u64 as `varint` wrote it: at most ten bytes, the tenth holding only bit 63. More,
    /// or bits past 64, is a worker's garbage, refused rather than read as a wrong value.
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.0.split_first()?;
            self.0 = rest;
            let bits = u64::from(byte & 0x7f);
            if bits.leading_zeros() < shift {
                return None;
            }
            v |= bits << shift;
            if byte < 0x80 {
                return Some(v);
            }
        }
        None
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        let (head, rest) = (self.0.get(..len)?, self.0.get(len..)?);
        self.0 = rest;
        Some(head)
    }

    fn text(&mut self) -> Option<&'a [u8]> {
        let bytes = self.bytes()?;
        std::str::from_utf8(bytes).ok().map(str::as_bytes)
    }
}

/// The events `encode` wrote, or None when `bytes` are not such events (a worker that wrote
/// garbage: every length is checked, and text must be UTF-8).
pub fn decode(bytes: &[u8]) -> Option<ChunkBuilder> {
    let mut input = Input(bytes);
    // About 3 bytes of overhead per event: a fair first guess at the count.
    let mut builder = ChunkBuilder::with_capacity(bytes.len() / 64 + 1, bytes.len() / 8, bytes.len());
    let mut templated = false;
    while !input.0.is_empty() {
        let flags = *input.0.first()?;
        input.0 = &input.0[1..];
        // Checked for UTF-8 all at once, after the loop.
        let id = input.bytes()?;
        let data = input.bytes()?;
        if flags & NEW_ATTRIBUTES != 0 {
            let mut event = empty_event();
            let mut fields = strings(&event);
            for field in fields.iter_mut().skip(1) {
                *field = builder.put(input.text()?);
            }
            set_strings(&mut event, fields);
            builder.template(&event);
            templated = true;
        } else if !templated {
            return None;
        }
        if id.is_empty() {
            return None;
        }
        builder.push(id, data);
        if flags & EXTENSIONS != 0 {
            for _ in 0..input.varint()? {
                let (key, value) = (input.text()?, input.text()?);
                let (key, value) = (builder.put(key), builder.put(value));
                builder.push_extension(key, value);
            }
        }
    }
    (builder.ids_are_ascii() || builder.first_non_utf8_id().is_none()).then_some(builder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::EventIn;

    fn chunk(events: &[EventIn<'_>]) -> crate::log::Chunk {
        let mut builder = ChunkBuilder::with_capacity(events.len(), 64, 1024);
        for event in events {
            builder.push_event(event);
        }
        let mut chunk = builder.finish();
        chunk.number(10);
        chunk
    }

    fn owned(e: EventRef<'_>) -> Vec<String> {
        let mut fields = vec![
            e.id().to_string(),
            e.source().to_string(),
            e.specversion().to_string(),
            e.ty().to_string(),
            e.subject().to_string(),
            e.time().to_string(),
            String::from_utf8_lossy(e.data()).into_owned(),
        ];
        fields.extend(e.extensions().map(|(k, v)| format!("{k}={v}")));
        fields
    }

    #[test]
    fn events_read_back_as_they_were() {
        let original = chunk(&[
            EventIn { id: "a", source: "s", ty: "t", data: b"one", ..Default::default() },
            EventIn {
                id: "b",
                source: "s2",
                ty: "t",
                subject: "x",
                time: "2026-11-27T21:17:42Z",
                ..Default::default()
            },
            EventIn { id: "c", source: "s2", ty: "t", specversion: "1.0", data: b"three", ..Default::default() },
        ]);
        let mut bytes = Vec::new();
        encode(original.refs(11..13), &mut bytes);
        let mut decoded = decode(&bytes).expect("decodes").finish();
        decoded.number(11);
        let expected: Vec<_> = original.refs(11..13).map(owned).collect();
        let got: Vec<_> = decoded.refs(11..13).map(owned).collect();
        assert_eq!(got, expected);
        assert_eq!(decoded.events(11..13)[1].seq, 12);
    }

    #[test]
    fn shared_attributes_are_sent_once() {
        let mut builder = ChunkBuilder::with_capacity(100, 1000, 10000);
        let mut event = empty_event();
        let mut fields = strings(&event);
        fields[1] = builder.put(b"a-rather-long-source");
        fields[3] = builder.put(b"a.rather.long.type");
        set_strings(&mut event, fields);
        builder.template(&event);
        for i in 0..100 {
            builder.push(format!("{i:03}").as_bytes(), b"");
        }
        let chunk = builder.finish();
        let mut bytes = Vec::new();
        encode(chunk.refs(0..100), &mut bytes);
        // 3 bytes of id, 3 of flag and lengths per event, the attributes once.
        assert!(bytes.len() < 100 * 6 + 60, "{} bytes", bytes.len());
        assert_eq!(decode(&bytes).expect("decodes").len(), 100);
    }

    #[test]
    fn a_varint_longer_or_wider_than_64_bits_is_refused() {
        let mut max = Vec::new();
        varint(&mut max, u64::MAX);
        assert_eq!(max.len(), 10);
        assert_eq!(Input(&max).varint(), Some(u64::MAX));
        let too_long = [[0x80; 10].as_slice(), &[0x01]].concat();
        assert_eq!(Input(&too_long).varint(), None, "11 bytes");
        let too_wide = [[0xff; 9].as_slice(), &[0x02]].concat();
        assert_eq!(Input(&too_wide).varint(), None, "a bit past bit 63");
        // As a worker would send it: the id's length as 11 bytes.
        let frame = [[1u8].as_slice(), &too_long, b"a"].concat();
        assert!(decode(&frame).is_none());
    }

    #[test]
    fn garbage_is_refused_not_trusted() {
        assert!(decode(&[0, 1, b'a', 0]).is_none(), "no attributes before the first event");
        assert!(decode(&[1, 200, b'a']).is_none(), "a length past the end");
        assert!(decode(&[1, 1, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]).is_none(), "an id that is not UTF-8");
    }
}
