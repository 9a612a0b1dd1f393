//! Reading a producer's batch of C events into the log's own memory. This is where events
//! from plugins are checked: struct size, required attributes, UTF-8, size limits. A batch is
//! taken whole or not at all.

use evhost_abi::{self as evh, evh_attr, evh_bytes, evh_event, evh_status, evh_str};

use crate::bus::{ChunkBuilder, EventIn};

/// Why a batch was refused: a status for the plugin and a message for `set_error` and logs.
pub struct Refused(pub evh_status, pub String);

fn invalid(message: String) -> Refused {
    Refused(evh::EVH_ERR_INVALID_ARGUMENT, message)
}

/// # Safety
/// `view` must be NULL with any length, or point to `len` readable bytes that stay valid for
/// `'a` (the ABI's promise for the duration of an `emit` call).
unsafe fn bytes<'a>(view: evh_bytes) -> Option<&'a [u8]> {
    match (view.ptr.is_null(), view.len) {
        (_, 0) => Some(&[]),
        (true, _) => None,
        // SAFETY: non-NULL with a length: the caller promises `len` readable bytes.
        (false, len) => Some(unsafe { std::slice::from_raw_parts(view.ptr, len) }),
    }
}

/// # Safety
/// As for [`bytes`].
unsafe fn text<'a>(view: evh_str, event: usize, field: &str) -> Result<&'a str, Refused> {
    // SAFETY: forwarded from the caller.
    let raw = unsafe { bytes(evh_bytes { ptr: view.ptr, len: view.len }) }
        .ok_or_else(|| invalid(format!("event {event}: `{field}` has a NULL pointer and a length of {}", view.len)))?;
    std::str::from_utf8(raw).map_err(|e| invalid(format!("event {event}: `{field}` is not valid UTF-8 ({e}); CloudEvents attributes are UTF-8 text")))
}

/// One event's checked views.
struct Checked<'a> {
    event: EventIn<'a>,
    extensions: Vec<(&'a str, &'a str)>,
}

impl Checked<'_> {
    /// The bytes the event takes in the log.
    fn size(&self) -> usize {
        self.event.size() + self.extensions.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
    }
}

/// # Safety
/// `e` must follow the ABI: every view readable for the duration of the call.
unsafe fn check<'a>(e: &'a evh_event, index: usize, max_event_bytes: usize) -> Result<Checked<'a>, Refused> {
    // SAFETY (all `text` and `bytes` calls): the producer promises that an event's views are
    // valid for the duration of `emit`, which outlives this function.
    let event = unsafe {
        EventIn {
            id: text(e.id, index, "id")?,
            source: text(e.source, index, "source")?,
            specversion: text(e.specversion, index, "specversion")?,
            ty: text(e.r#type, index, "type")?,
            subject: text(e.subject, index, "subject")?,
            datacontenttype: text(e.datacontenttype, index, "datacontenttype")?,
            dataschema: text(e.dataschema, index, "dataschema")?,
            time: text(e.time, index, "time")?,
            data: bytes(e.data).ok_or_else(|| invalid(format!("event {index}: `data` has a NULL pointer and a length of {}", e.data.len)))?,
        }
    };
    for (field, value) in [("id", event.id), ("source", event.source), ("type", event.ty)] {
        if value.is_empty() {
            return Err(invalid(format!("event {index}: `{field}` is empty; every CloudEvent needs an id, a source and a type")));
        }
    }
    if !matches!(event.specversion, "" | "1.0") {
        return Err(invalid(format!("event {index} (id \"{}\"): specversion \"{}\" is not supported; leave it empty or set \"1.0\"", event.id, event.specversion)));
    }
    let mut extensions = Vec::new();
    if e.extensions_len > 0 {
        if e.extensions.is_null() {
            return Err(invalid(format!("event {index}: `extensions` is NULL but `extensions_len` is {}", e.extensions_len)));
        }
        // SAFETY: non-NULL, and the producer promises `extensions_len` attributes.
        let attrs: &[evh_attr] = unsafe { std::slice::from_raw_parts(e.extensions, e.extensions_len) };
        for attr in attrs {
            // SAFETY: as above, attribute views live as long as the event.
            let (key, value) = unsafe { (text(attr.key, index, "extension name")?, text(attr.value, index, "extension value")?) };
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
                return Err(invalid(format!("event {index}: extension name \"{key}\" is invalid; CloudEvents extension names use only a-z and 0-9")));
            }
            extensions.push((key, value));
        }
    }
    let checked = Checked { event, extensions };
    let size = checked.size();
    if size > max_event_bytes {
        return Err(Refused(
            evh::EVH_ERR_TOO_LARGE,
            format!("event {index} (id \"{}\") is {size} bytes, over the host's limit of {max_event_bytes}; send large payloads by reference, or raise [host] max_event_bytes", checked.event.id),
        ));
    }
    Ok(checked)
}

/// Copies `n` events starting at `events` into a new chunk.
///
/// # Safety
/// `events` must be NULL or point to `n` events of `events[0].struct_size` bytes each, as the
/// ABI's `emit` documents, valid for the duration of the call.
pub unsafe fn read_batch(events: *const evh_event, n: usize, max_event_bytes: usize) -> Result<ChunkBuilder, Refused> {
    if n == 0 {
        return Ok(ChunkBuilder::with_capacity(0, 0));
    }
    if events.is_null() {
        return Err(invalid(format!("emit was given NULL events and n = {n}")));
    }
    // SAFETY: non-NULL, and n >= 1, so the first event is readable; struct_size comes first.
    let stride = unsafe { (*events).struct_size } as usize;
    let minimum = std::mem::size_of::<evh_event>();
    if stride < minimum || stride % std::mem::align_of::<evh_event>() != 0 {
        return Err(invalid(format!("events[0].struct_size is {stride}; set it to sizeof(evh_event) ({minimum} in ABI 1.0)")));
    }
    let mut checked = Vec::with_capacity(n);
    for index in 0..n {
        // SAFETY: the producer promises n events, `stride` bytes apart; the stride is at
        // least the size of the struct we read and keeps its alignment.
        let event = unsafe { &*events.cast::<u8>().add(index * stride).cast::<evh_event>() };
        // SAFETY: forwarded from the caller.
        checked.push(unsafe { check(event, index, max_event_bytes)? });
    }
    // "+ 3": an empty specversion is stored as "1.0".
    let bytes: usize = checked.iter().map(|c| c.size() + 3).sum();
    let mut builder = ChunkBuilder::with_capacity(n, bytes);
    for c in &checked {
        builder.push_event(&c.event);
        for (key, value) in &c.extensions {
            builder.push_extension(key, value);
        }
    }
    Ok(builder)
}
