//! One event with its own copy of everything it points to: what a bus built from channels
//! carries per message. The log never uses it; the benchmark's `tokio_broadcast` baseline
//! does, so that the baseline pays for one owned event and nothing of the log's machinery.

use evh::{evh_attr, evh_bytes, evh_event, evh_str};
use evhost_abi as evh;

use super::{set_strings, EventRef};

pub struct OwnedEvent {
    event: evh_event,
    /// What `event` points into: every string and the data back to back (a boxed slice's
    /// bytes stay put when the `OwnedEvent` moves), and the extension attributes.
    _bytes: Box<[u8]>,
    _attrs: Box<[evh_attr]>,
}

impl OwnedEvent {
    /// Copies `e`: one allocation, and one more for extension attributes if it has any.
    pub fn new(e: &EventRef<'_>) -> Self {
        let strings =
            [e.id(), e.source(), e.specversion(), e.ty(), e.subject(), e.datacontenttype(), e.dataschema(), e.time()];
        let size = strings.iter().map(|s| s.len()).sum::<usize>()
            + e.data().len()
            + e.extensions().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        let mut bytes = Vec::with_capacity(size);
        let mut put = |part: &[u8]| {
            bytes.extend_from_slice(part);
            (bytes.len() - part.len(), part.len())
        };
        let spans = strings.map(|s| put(s.as_bytes()));
        let data = put(e.data());
        let extensions: Vec<_> = e.extensions().map(|(k, v)| (put(k.as_bytes()), put(v.as_bytes()))).collect();
        let bytes = bytes.into_boxed_slice();
        let view = |(at, len): (usize, usize)| evh_str {
            ptr: if len == 0 { std::ptr::null() } else { bytes.as_ptr().wrapping_add(at) },
            len,
        };
        let attrs: Box<[evh_attr]> =
            extensions.into_iter().map(|(k, v)| evh_attr { key: view(k), value: view(v) }).collect();
        let mut event = *e.raw;
        set_strings(&mut event, spans.map(view));
        let data = view(data);
        event.data = evh_bytes { ptr: data.ptr, len: data.len };
        event.extensions = if attrs.is_empty() { std::ptr::null() } else { attrs.as_ptr() };
        event.extensions_len = attrs.len();
        OwnedEvent { event, _bytes: bytes, _attrs: attrs }
    }

    /// The event, pointing into memory it owns.
    pub fn raw(&self) -> &evh_event {
        &self.event
    }
}
