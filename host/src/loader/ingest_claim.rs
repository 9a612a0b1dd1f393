//! The checks `publish` (ABI 1.2) makes on events a producer wrote in place: `emit`'s rules
//! and messages (`ingest`), read where the events lie, plus one rule of its own: every
//! non-empty view points into the claim's bytes, so that nothing the log keeps points into
//! the producer's memory. Nothing is copied or written here; the checks read the chunk's
//! own buffers, so they need no `unsafe`.

use evhost_abi::{self as evh, evh_attr, evh_event, evh_str};

use super::ingest::{
    bad_struct_size, check_extension_name, check_version_and_time, extensions_null, invalid, misaligned_extensions,
    missing, not_utf8, null_view, same_attributes, too_large, utf8, Field, Refused,
};
use crate::log::{strings, Chunk, STRING_NAMES};

#[cold]
fn outside(index: usize, field: Field<'_>) -> Refused {
    invalid(format!(
        "event {index}: {field} points outside the claim's bytes; with claim and publish, write every string, the data and the extension array into claim->bytes, or emit the event instead"
    ))
}

#[cold]
fn struct_size(index: usize, size: u32) -> Refused {
    match index {
        0 => bad_struct_size(size as usize),
        _ => invalid(format!(
            "event {index}: struct_size is {size}; set it to sizeof(evh_event) ({}) in every event of a claim",
            std::mem::size_of::<evh_event>()
        )),
    }
}

/// The bytes of a view of a claimed event: empty, or inside the chunk's arena.
#[inline(always)]
fn view<'a>(chunk: &'a Chunk, v: evh_str, index: usize, field: Field<'_>) -> Result<&'a [u8], Refused> {
    if v.len == 0 {
        return Ok(&[]);
    }
    if v.ptr.is_null() {
        return Err(null_view(index, field, v.len));
    }
    chunk.in_arena(v.ptr as usize, v.len).ok_or_else(|| outside(index, field))
}

/// Checks the first `n` events of a claimed chunk as `emit` checks a batch: the same rules,
/// in the same order, with the same messages.
pub fn check_claimed(chunk: &Chunk, n: usize, max_event_bytes: usize) -> Result<(), Refused> {
    let events = &chunk.written()[..n];
    let size = evh::struct_size::<evh_event>();
    let mut previous: Option<&evh_event> = None;
    let mut shared_size = 0;
    // The first id that is not UTF-8; reported after any other error, as `emit` does.
    let mut bad_id = None;
    for (index, e) in events.iter().enumerate() {
        if e.struct_size != size {
            return Err(struct_size(index, e.struct_size));
        }
        if !previous.is_some_and(|p| same_attributes(p, e)) {
            shared_size = 0;
            let mut stored: [&[u8]; 8] = [&[]; 8];
            for (k, field) in strings(e).into_iter().enumerate().skip(1) {
                let name = Field::Attribute(STRING_NAMES[k]);
                stored[k] = utf8(view(chunk, field, index, name)?, index, name)?;
                shared_size += field.len;
            }
            for (k, name) in [(1, "source"), (3, "type")] {
                if stored[k].is_empty() {
                    return Err(missing(index, name));
                }
            }
            check_version_and_time(index, stored[2], stored[7])?;
        }
        previous = Some(e);
        let id = view(chunk, e.id, index, Field::Attribute("id"))?;
        if id.is_empty() {
            return Err(missing(index, "id"));
        }
        if bad_id.is_none() && !ascii(chunk, id) && std::str::from_utf8(id).is_err() {
            bad_id = Some((index, id));
        }
        let data = evh_str { ptr: e.data.ptr, len: e.data.len };
        view(chunk, data, index, Field::Attribute("data"))?;
        let mut size = id.len() + shared_size + e.data.len;
        if e.extensions_len == 0 {
            if size > max_event_bytes {
                return Err(too_large(index, id, size, max_event_bytes));
            }
            continue;
        }
        // Extensions are rare: their own, slower path, in emit's order (size first).
        let attrs = extensions(chunk, e, index);
        size += attrs.as_ref().map_or(0, |a| a.iter().map(|[_, k, _, v]| k + v).sum::<usize>());
        if size > max_event_bytes {
            return Err(too_large(index, id, size, max_event_bytes));
        }
        for [key, key_len, value, value_len] in attrs? {
            let as_view = |ptr: usize, len| evh_str { ptr: std::ptr::without_provenance(ptr), len };
            let key = view(chunk, as_view(key, key_len), index, Field::ExtensionName)?;
            let key = utf8(key, index, Field::ExtensionName)?;
            check_extension_name(index, key)?;
            let field = Field::ExtensionValue(key);
            utf8(view(chunk, as_view(value, value_len), index, field)?, index, field)?;
        }
    }
    match bad_id {
        Some((index, id)) => Err(not_utf8(index, Field::Attribute("id"), id)),
        None => Ok(()),
    }
}

/// True when a non-empty `id` of the chunk's arena is ASCII, a word at a time: a byte loop
/// per short id cost a third of publish's checks (callgrind), and unlike `emit`'s copies,
/// claimed ids do not lie together for one pass over all. A short id is read as the last
/// bytes of the word that ends with it, the bytes before it shifted out.
#[inline(always)]
fn ascii(chunk: &Chunk, id: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
    if id.len() >= 8 {
        let (words, _) = id.as_chunks::<8>();
        let last = word(&id[id.len() - 8..]);
        return words.iter().fold(last, |all, w| all | u64::from_le_bytes(*w)) & HIGH == 0;
    }
    let end = id.as_ptr() as usize + id.len();
    match chunk.in_arena(end.wrapping_sub(8), 8) {
        Some(w) => (word(w) >> ((8 - id.len()) * 8)) & HIGH == 0,
        None => id.iter().fold(0, |all, b| all | b) < 0x80,
    }
}

/// The event's extension attributes as addresses and lengths (key, key length, value, value
/// length), read from the arena; the refusal when the array is NULL, outside the arena or
/// misaligned.
fn extensions(chunk: &Chunk, e: &evh_event, index: usize) -> Result<Vec<[usize; 4]>, Refused> {
    if e.extensions.is_null() {
        return Err(extensions_null(index, e.extensions_len));
    }
    let (addr, size) = (e.extensions as usize, std::mem::size_of::<evh_attr>());
    let bytes = e.extensions_len.checked_mul(size).ok_or_else(|| outside(index, Field::Attribute("extensions")))?;
    let at = chunk.arena_offset(addr, bytes).ok_or_else(|| outside(index, Field::Attribute("extensions")))?;
    if !addr.is_multiple_of(std::mem::align_of::<evh_attr>()) {
        return Err(misaligned_extensions(index));
    }
    Ok((0..e.extensions_len).map(|i| chunk.attr_at(at + i * size)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_agrees_with_a_byte_check_at_every_place_and_length() {
        let mut chunk = Chunk::claimed(1, 64);
        let (_, _, bytes, len) = chunk.room();
        {
            // SAFETY: the room's `len` bytes are the chunk's, and nothing else refers to them
            // while this slice lives.
            let room = unsafe { std::slice::from_raw_parts_mut(bytes, len) };
            for (i, b) in room.iter_mut().enumerate() {
                *b = if i % 7 == 3 { 0xc3 } else { b'a' + (i % 26) as u8 };
            }
        }
        for start in 0..64 {
            for len in 1..=(64 - start).min(20) {
                let id = chunk.in_arena(bytes as usize + start, len).expect("inside");
                assert_eq!(ascii(&chunk, id), id.is_ascii(), "{len} bytes at {start}");
            }
        }
    }

    /// A claimed event as the host reads it back for itself (dead letters): its strings and
    /// its extension array, which lies in the arena rather than in the chunk's attributes.
    #[test]
    fn the_host_reads_a_claimed_event_back() {
        let mut chunk = Chunk::claimed(2, 128);
        let (events, _, bytes, _) = chunk.room();
        let text = b"/src\0\0\0\0typeid-1keyvalue";
        // SAFETY: the room is the chunk's and nothing else refers to it; the attribute goes
        // at offset 64, which the arena's 16-byte alignment makes 8-aligned; the event is
        // the first of two.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), bytes, text.len());
            let at = |offset: usize, len: usize| evh_str { ptr: bytes.add(offset), len };
            bytes.add(64).cast::<evh_attr>().write(evh_attr { key: at(16, 3), value: at(19, 5) });
            events.write(evh_event {
                source: at(0, 4),
                r#type: at(8, 4),
                id: at(12, 4),
                extensions: bytes.add(64).cast::<evh_attr>(),
                extensions_len: 1,
                ..crate::log::empty_event()
            });
        }
        check_claimed(&chunk, 1, 1 << 20).unwrap_or_else(|Refused(_, m)| panic!("refused: {m}"));
        chunk.publish(1);
        chunk.number(7);
        let event = chunk.refs(7..8).next().expect("one event");
        assert_eq!((event.seq(), event.id(), event.source(), event.ty()), (7, "id-1", "/src", "type"));
        assert_eq!(event.extensions().collect::<Vec<_>>(), [("key", "value")]);
    }
}
