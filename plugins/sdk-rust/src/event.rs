//! Zero-copy views of the events the host delivers: `Event` and `Batch`.
//!
//! LIFETIME: both borrow the host's memory, which is valid only until `on_events` returns;
//! the borrow checker keeps them inside the call. Copy what you keep (`Event::to_owned_event`,
//! or `to_vec`/`to_string` on the parts).

use std::mem::size_of;
use std::ops::Index;
use std::{slice, str};

use evhost_abi::{evh_attr, evh_bytes, evh_event, evh_str};

use crate::emit::OutEvent;

/// One delivered event, CloudEvents 1.0 in shape; see the accessors.
///
/// Strings are UTF-8-checked on access: the host validates them already, but a view never
/// trusts that blindly, and a string that is not UTF-8 reads as empty.
#[repr(transparent)]
pub struct Event(evh_event);

/// # Safety
///
/// `ptr` is NULL, or `len` bytes at `ptr` are readable for `'a`.
unsafe fn view<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: the caller's promise.
    unsafe { slice::from_raw_parts(ptr, len) }
}

/// A string of an event the SDK handed out as `&Event`; empty when it is not UTF-8.
fn text(s: &evh_str) -> &str {
    // SAFETY: `s` lives inside a host event (or its extension array) behind a `&Event`, and
    // the host keeps what it points to valid as long as the event (see `Batch::from_raw`);
    // the result borrows `s`, so it cannot outlive the event.
    str::from_utf8(unsafe { view(s.ptr, s.len) }).unwrap_or("")
}

fn optional(s: &evh_str) -> Option<&str> {
    Some(text(s)).filter(|s| !s.is_empty())
}

impl Event {
    /// The host's sequence number: strictly increasing in log order.
    pub fn seq(&self) -> u64 {
        self.0.seq
    }

    /// The `id` attribute.
    pub fn id(&self) -> &str {
        text(&self.0.id)
    }

    /// The `source` attribute (a URI reference).
    pub fn source(&self) -> &str {
        text(&self.0.source)
    }

    /// The `specversion` attribute; "1.0" when the host left it empty.
    pub fn specversion(&self) -> &str {
        optional(&self.0.specversion).unwrap_or("1.0")
    }

    /// The `type` attribute.
    pub fn ty(&self) -> &str {
        text(&self.0.r#type)
    }

    /// The `subject` attribute, if present.
    pub fn subject(&self) -> Option<&str> {
        optional(&self.0.subject)
    }

    /// The `datacontenttype` attribute, if present.
    pub fn datacontenttype(&self) -> Option<&str> {
        optional(&self.0.datacontenttype)
    }

    /// The `dataschema` attribute, if present.
    pub fn dataschema(&self) -> Option<&str> {
        optional(&self.0.dataschema)
    }

    /// The `time` attribute (RFC 3339), if present.
    pub fn time(&self) -> Option<&str> {
        optional(&self.0.time)
    }

    /// The data bytes; empty when the event has none.
    pub fn data(&self) -> &[u8] {
        let evh_bytes { ptr, len } = self.0.data;
        // SAFETY: as in `text`: the data lives as long as the event this borrows.
        unsafe { view(ptr, len) }
    }

    /// The extension attributes as `(key, value)` pairs, in the host's order.
    pub fn extensions(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        let attrs: &[evh_attr] = if self.0.extensions.is_null() || self.0.extensions_len == 0 {
            &[]
        } else {
            // SAFETY: the host promises `extensions_len` attributes at `extensions`, valid as
            // long as the event; the returned iterator borrows `self`.
            unsafe { slice::from_raw_parts(self.0.extensions, self.0.extensions_len) }
        };
        attrs.iter().map(|a| (text(&a.key), text(&a.value)))
    }

    /// The value of one extension attribute.
    pub fn extension(&self, key: &str) -> Option<&str> {
        self.extensions().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// An owned copy, to keep past the call or to emit again (without the sequence number).
    pub fn to_owned_event(&self) -> OutEvent<'static> {
        let mut out = OutEvent::new(self.id().to_owned(), self.source().to_owned(), self.ty().to_owned())
            .data(self.data().to_vec());
        out.subject = self.subject().map(|s| s.to_owned().into());
        out.datacontenttype = self.datacontenttype().map(|s| s.to_owned().into());
        out.dataschema = self.dataschema().map(|s| s.to_owned().into());
        out.time = self.time().map(|s| s.to_owned().into());
        out.extensions = self.extensions().map(|(k, v)| (k.to_owned().into(), v.to_owned().into())).collect();
        out
    }
}

/// Unit tests build events without a host.
#[cfg(test)]
impl Event {
    pub(crate) fn from_abi(raw: evh_event) -> Event {
        Event(raw)
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("seq", &self.seq())
            .field("id", &self.id())
            .field("source", &self.source())
            .field("type", &self.ty())
            .field("data_len", &self.data().len())
            .finish_non_exhaustive()
    }
}

/// The batch of events one `on_events` call delivers, in log order; never empty.
///
/// LIFETIME: `'a` is the call; the events cannot outlive it.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    events: &'a [&'a Event],
}

impl<'a> Batch<'a> {
    /// Views the host's `(events, n)`.
    ///
    /// The host hands every consumer the events it made itself, all of its own
    /// `struct_size` (ABI rule: at least 1.0's), so the array and the first event are
    /// checked and the rest trusted: a check of every pointer cost each consumer 13
    /// instructions per event (callgrind), more than the `count` example's own work.
    ///
    /// # Safety
    ///
    /// `events` must point to `n` pointers, each pointing to an event of at least 1.0's
    /// size, all valid for `'a`.
    pub(crate) unsafe fn from_raw(events: *const *const evh_event, n: usize) -> Result<Batch<'a>, String> {
        if events.is_null() || n == 0 {
            return Err(format!("on_events: got no events (events = {events:?}, n = {n})"));
        }
        if !events.is_aligned() {
            return Err(format!("on_events: the array of events at {events:?} is misaligned"));
        }
        // SAFETY: the caller promises `n` readable pointers at `events`.
        let raw = unsafe { slice::from_raw_parts(events, n) };
        let usable = |event: *const evh_event| {
            // SAFETY: `struct_size` is the first field in every ABI version; it is read only
            // from a non-NULL, aligned pointer the caller promises readable.
            !event.is_null() && event.is_aligned() && unsafe { (*event).struct_size } as usize >= size_of::<evh_event>()
        };
        // Debug builds check them all, refusing the batch rather than panicking in this
        // `extern "C"` call's caller.
        let checked = if cfg!(debug_assertions) { n } else { 1 };
        if let Some(i) = (0..checked).find(|&i| !usable(raw[i])) {
            return Err(format!("on_events: event {i} ({:?}) is NULL, misaligned or below ABI 1.0's size", raw[i]));
        }
        // SAFETY: the caller promises every pointer points to at least a full 1.0
        // `evh_event` valid for `'a` (the first is checked); `&Event` has the layout of
        // `*const evh_event` (`Event` is `repr(transparent)`), so the slice can be read as
        // references.
        let events = unsafe { slice::from_raw_parts(events.cast::<&'a Event>(), n) };
        Ok(Batch { events })
    }

    /// How many events the batch holds (at least one).
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Always false for a batch from the host; here for completeness.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The event at `index`, if any.
    pub fn get(&self, index: usize) -> Option<&'a Event> {
        self.events.get(index).copied()
    }

    /// The events in log order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a Event> + 'a {
        self.events.iter().copied()
    }
}

impl<'a> Index<usize> for Batch<'a> {
    type Output = Event;

    fn index(&self, index: usize) -> &Event {
        self.events[index]
    }
}

impl<'a> IntoIterator for &Batch<'a> {
    type Item = &'a Event;
    type IntoIter = std::iter::Copied<slice::Iter<'a, &'a Event>>;

    fn into_iter(self) -> Self::IntoIter {
        self.events.iter().copied()
    }
}
