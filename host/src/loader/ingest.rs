//! Reading a producer's batch of C events into the log's own memory. This is where events
//! from plugins are checked: struct size, required attributes, UTF-8, specversion, an RFC
//! 3339 time, extension names, size limits. A batch is taken whole or not at all.
//!
//! It is the producer's hot path, so it makes one pass over the events, copies each byte
//! once and writes one record per event (the log makes the consumers' structs later). When
//! an event shares every attribute but its id and data with the one before (the same
//! pointers and lengths, as a producer's constant source and type), those attributes are
//! checked and stored once per batch; so are extension attributes in the same array. The
//! copied ids are checked for UTF-8 together, in one pass after the loop.

use evhost_abi::{self as evh, evh_attr, evh_event, evh_status, evh_str};
use evhost_cloudevents::attributes::{is_extension_name, is_rfc3339, SPECVERSION};

use crate::log::{empty_event, set_strings, strings, ChunkBuilder, STRING_NAMES};

/// Why a batch was refused: a status for the plugin and a message for the log.
pub struct Refused(pub evh_status, pub String);

pub(super) fn invalid(message: String) -> Refused {
    Refused(evh::EVH_ERR_INVALID_ARGUMENT, message)
}

/// # Safety
/// `view` must be NULL with any length, or point to `len` readable bytes that stay valid for
/// `'a` (the ABI's promise for the duration of an `emit` call).
#[inline]
unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> Option<&'a [u8]> {
    match (ptr.is_null(), len) {
        (_, 0) => Some(&[]),
        (true, _) => None,
        // SAFETY: non-NULL with a length: the caller promises `len` readable bytes.
        (false, len) => Some(unsafe { std::slice::from_raw_parts(ptr, len) }),
    }
}

/// Checks that a view is UTF-8 and returns its bytes. Inlined, with the messages in cold
/// functions: it runs for every event.
///
/// # Safety
/// As for [`bytes`].
#[inline(always)]
unsafe fn text<'a>(view: evh_str, event: usize, field: Field<'_>) -> Result<&'a [u8], Refused> {
    if view.len == 0 {
        return Ok(&[]);
    }
    if view.ptr.is_null() {
        return Err(null_view(event, field, view.len));
    }
    // SAFETY: non-NULL with a length: the caller promises `len` readable bytes.
    let raw = unsafe { std::slice::from_raw_parts(view.ptr, view.len) };
    utf8(raw, event, field)
}

/// Checks that `raw` is UTF-8 and returns it. Inlined: it runs for every event.
#[inline(always)]
pub(super) fn utf8<'a>(raw: &'a [u8], event: usize, field: Field<'_>) -> Result<&'a [u8], Refused> {
    // ASCII first: attributes almost always are, and the full check costs more on short text.
    // One OR over all bytes, without the early exits of `is_ascii`, which cost a branch per
    // byte on short ids.
    if raw.iter().fold(0, |all, byte| all | byte) < 0x80 || std::str::from_utf8(raw).is_ok() {
        Ok(raw)
    } else {
        Err(not_utf8(event, field, raw))
    }
}

/// What a message names: an attribute, or a part of an extension attribute.
#[derive(Clone, Copy)]
pub(super) enum Field<'a> {
    Attribute(&'static str),
    ExtensionName,
    ExtensionValue(&'a [u8]),
}

impl std::fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Field::Attribute(name) => write!(f, "`{name}`"),
            Field::ExtensionName => f.write_str("an extension name"),
            Field::ExtensionValue(key) => write!(f, "the value of extension `{}`", String::from_utf8_lossy(key)),
        }
    }
}

#[cold]
pub(super) fn null_view(event: usize, field: Field<'_>, len: usize) -> Refused {
    invalid(format!("event {event}: {field} has a NULL pointer and a length of {len}"))
}

#[cold]
pub(super) fn not_utf8(event: usize, field: Field<'_>, raw: &[u8]) -> Refused {
    let e = std::str::from_utf8(raw).expect_err("checked by the caller");
    invalid(format!("event {event}: {field} is not valid UTF-8 ({e}); CloudEvents attributes are UTF-8 text"))
}

// The messages of the other refusals, shared with `publish` (ABI 1.2), which checks the
// same rules on events written in place.

#[cold]
pub(super) fn bad_struct_size(stride: usize) -> Refused {
    let minimum = std::mem::size_of::<evh_event>();
    invalid(format!("events[0].struct_size is {stride}; set it to sizeof(evh_event) ({minimum} in ABI 1.0)"))
}

#[cold]
pub(super) fn missing(index: usize, name: &str) -> Refused {
    invalid(format!("event {index}: `{name}` is empty; every CloudEvent needs an id, a source and a type"))
}

/// Refuses a specversion other than none or 1.0, and a time that is not RFC 3339.
#[inline]
pub(super) fn check_version_and_time(index: usize, specversion: &[u8], time: &[u8]) -> Result<(), Refused> {
    if !specversion.is_empty() && specversion != SPECVERSION.as_bytes() {
        return Err(invalid(format!(
            "event {index}: specversion \"{}\" is not supported; leave it empty or set \"{SPECVERSION}\"",
            String::from_utf8_lossy(specversion)
        )));
    }
    if !time.is_empty() && !is_rfc3339(time) {
        return Err(invalid(format!(
            "event {index}: `time` \"{}\" is not an RFC 3339 timestamp; write it like 2026-11-27T21:17:42Z or 2026-11-27T22:17:42.5+01:00, or leave it empty",
            String::from_utf8_lossy(time)
        )));
    }
    Ok(())
}

#[cold]
pub(super) fn too_large(index: usize, id: &[u8], size: usize, max_event_bytes: usize) -> Refused {
    Refused(
        evh::EVH_ERR_TOO_LARGE,
        format!("event {index} (id \"{}\") is {size} bytes, over the host's limit of {max_event_bytes}; send large payloads by reference, or raise [host] max_event_bytes", String::from_utf8_lossy(id)),
    )
}

#[cold]
pub(super) fn extensions_null(index: usize, len: usize) -> Refused {
    invalid(format!("event {index}: `extensions` is NULL but `extensions_len` is {len}"))
}

/// An extension array the host cannot read as `evh_attr`s where it lies; emit's and
/// publish's refusal alike.
#[cold]
pub(super) fn misaligned_extensions(index: usize) -> Refused {
    invalid(format!(
        "event {index}: `extensions` is not aligned for evh_attr; place the array at an address that is a multiple of {} (in a claim, at such an offset of claim->bytes)",
        std::mem::align_of::<evh_attr>()
    ))
}

/// Refuses an extension name CloudEvents does not allow.
#[inline]
pub(super) fn check_extension_name(index: usize, key: &[u8]) -> Result<(), Refused> {
    if is_extension_name(key) {
        return Ok(());
    }
    Err(invalid(format!(
        "event {index}: extension name \"{}\" is invalid; CloudEvents extension names use only a-z and 0-9",
        String::from_utf8_lossy(key)
    )))
}

/// True when two events of one batch share every string attribute but the id: the same
/// pointers and lengths, so the same bytes for the duration of the call. Branch-free: it
/// runs for every event and is almost always true.
pub(super) fn same_attributes(a: &evh_event, b: &evh_event) -> bool {
    let differ = |x: evh_str, y: evh_str| ((x.ptr as usize) ^ (y.ptr as usize)) | (x.len ^ y.len);
    (differ(a.source, b.source)
        | differ(a.specversion, b.specversion)
        | differ(a.r#type, b.r#type)
        | differ(a.subject, b.subject)
        | differ(a.datacontenttype, b.datacontenttype)
        | differ(a.dataschema, b.dataschema)
        | differ(a.time, b.time))
        == 0
}

/// Copies `n` events starting at `events` into a new chunk.
///
/// # Safety
/// `events` must be NULL or point to `n` events of `events[0].struct_size` bytes each, as the
/// ABI's `emit` documents, valid for the duration of the call.
pub unsafe fn read_batch(events: *const evh_event, n: usize, max_event_bytes: usize) -> Result<ChunkBuilder, Refused> {
    if n == 0 {
        return Ok(ChunkBuilder::with_capacity(0, 0, 0));
    }
    if events.is_null() {
        return Err(invalid(format!("emit was given NULL events and n = {n}")));
    }
    // SAFETY: non-NULL, and n >= 1, so the first event is readable; struct_size comes first.
    let stride = unsafe { (*events).struct_size } as usize;
    if stride < std::mem::size_of::<evh_event>() || !stride.is_multiple_of(std::mem::align_of::<evh_event>()) {
        return Err(bad_struct_size(stride));
    }
    // SAFETY: the producer promises n events, `stride` bytes apart; the stride is at least
    // the size of the struct we read and keeps its alignment.
    let event_at = |index: usize| unsafe { &*events.cast::<u8>().add(index * stride).cast::<evh_event>() };

    // Room for n events like the first, sharing its other attributes; more if needed.
    let first = event_at(0);
    let shared = strings(first).iter().skip(1).map(|s| s.len).sum::<usize>();
    let per_event = first.data.len.saturating_add(attrs_len(first));
    let mut builder = ChunkBuilder::with_capacity(
        n,
        first.id.len.saturating_mul(n).min(1 << 20),
        per_event.saturating_mul(n).saturating_add(shared).min(1 << 24),
    );
    // `event` keeps the stored attributes between iterations: a producer's events usually
    // share all but id and data, and those are then checked and copied once per batch.
    let mut event = empty_event();
    let mut shared_size = 0;
    let mut previous: Option<&evh_event> = None;
    // The extension array stored last: where it is, its length and the event it was stored
    // for. The next event with the same array shares it: checked and stored once. (Its size
    // is still summed per event: caching it would cost every event, extensions or not, to
    // spare the few that have them.)
    let mut stored_extensions = (std::ptr::null(), 0, usize::MAX);
    for index in 0..n {
        let e = event_at(index);
        if !previous.is_some_and(|p| same_attributes(p, e)) {
            shared_size = 0;
            let mut stored = strings(&event);
            for (k, field) in strings(e).into_iter().enumerate().skip(1) {
                // SAFETY: the event's views are valid for the duration of `emit`.
                let value = unsafe { text(field, index, Field::Attribute(STRING_NAMES[k]))? };
                stored[k] = builder.put(value);
                shared_size += value.len();
            }
            set_strings(&mut event, stored);
            for (view, name) in [(e.source, "source"), (e.r#type, "type")] {
                if view.len == 0 {
                    return Err(missing(index, name));
                }
            }
            check_version_and_time(index, builder.view(event.specversion), builder.view(event.time))?;
            builder.template(&event);
        }
        previous = Some(e);
        // SAFETY: as above. The ids are checked for UTF-8 all at once, after the loop.
        let id =
            unsafe { bytes(e.id.ptr, e.id.len) }.ok_or_else(|| null_view(index, Field::Attribute("id"), e.id.len))?;
        if id.is_empty() {
            return Err(missing(index, "id"));
        }
        // SAFETY: as above.
        let data = unsafe { bytes(e.data.ptr, e.data.len) }
            .ok_or_else(|| null_view(index, Field::Attribute("data"), e.data.len))?;
        let size = id.len() + shared_size + data.len() + attrs_len(e);
        if size > max_event_bytes {
            return Err(too_large(index, id, size, max_event_bytes));
        }
        builder.push(id, data);
        if e.extensions_len > 0 {
            if stored_extensions == (e.extensions, e.extensions_len, index.wrapping_sub(1)) {
                builder.share_extensions();
            } else {
                // SAFETY: as above.
                unsafe { put_extensions(&mut builder, e, index)? };
            }
            stored_extensions = (e.extensions, e.extensions_len, index);
        }
    }
    // The copies are checked, not the producer's memory, which it might change meanwhile.
    // (A bad id is reported after any other error of the batch, even a later event's.)
    if !builder.ids_are_ascii() {
        if let Some((index, id)) = builder.first_non_utf8_id() {
            return Err(not_utf8(index, Field::Attribute("id"), id));
        }
    }
    Ok(builder)
}

/// The bytes of the event's extension attributes. Inline only the test most events stop at:
/// with the array's own checks inline too, every event paid about 5 instructions more
/// (callgrind, the C `sequence`, which has none).
#[inline(always)]
fn attrs_len(e: &evh_event) -> usize {
    if e.extensions_len == 0 {
        return 0;
    }
    array_attrs_len(e)
}

/// [`attrs_len`] of an event that has an extension array; 0 for one `put_extensions`
/// refuses (NULL or misaligned), which is not read.
#[inline(never)]
fn array_attrs_len(e: &evh_event) -> usize {
    if e.extensions.is_null() || !e.extensions.is_aligned() {
        return 0;
    }
    // SAFETY: non-NULL and aligned with a count, valid for the duration of `emit` (the ABI).
    let attrs = unsafe { std::slice::from_raw_parts(e.extensions, e.extensions_len) };
    attrs.iter().map(|a| a.key.len + a.value.len).sum()
}

/// Checks the event's extension attributes and adds them to the event pushed last.
///
/// # Safety
/// The event's views must be valid for the duration of the call.
unsafe fn put_extensions(builder: &mut ChunkBuilder, e: &evh_event, index: usize) -> Result<(), Refused> {
    if e.extensions.is_null() {
        return Err(extensions_null(index, e.extensions_len));
    }
    // A Rust slice must be aligned; C lets a plugin point anywhere (into a byte buffer).
    if !e.extensions.is_aligned() {
        return Err(misaligned_extensions(index));
    }
    // SAFETY: non-NULL and aligned, and the producer promises `extensions_len` attributes.
    let attrs = unsafe { std::slice::from_raw_parts(e.extensions, e.extensions_len) };
    for attr in attrs {
        // SAFETY: attribute views live as long as the event.
        let key = unsafe { text(attr.key, index, Field::ExtensionName)? };
        check_extension_name(index, key)?;
        // SAFETY: as above.
        let value = unsafe { text(attr.value, index, Field::ExtensionValue(key))? };
        let (key, value) = (builder.put(key), builder.put(value));
        builder.push_extension(key, value);
    }
    Ok(())
}

#[cfg(test)]
#[path = "ingest_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "ingest_props.rs"]
mod props;
