//! What only the benchmark's in-process baselines need from the host (cargo feature
//! `bench`, which `make bench` turns on; see host/benches/bench/in_process.rs). The product
//! is built without it: a producer's `emit` then calls the log and nothing else.
//!
//! - [`Baseline::Direct`]: a producer's events go straight to consumers, on the emitting
//!   thread, without a check, a copy or the log: the same plugin work with zero transport,
//!   the ceiling (`direct_calls`).
//! - [`Baseline::Transport`]: checked copies go to another transport instead of the log, and
//!   [`Instance::deliver_owned`] hands its consumers one [`OwnedEvent`] at a time
//!   (`tokio_broadcast`), and [`Instance::deliver_chunk`] a whole batch
//!   (`tokio_broadcast_batched`).

use std::sync::Arc;

use evhost_abi::{self as evh, evh_attr, evh_bytes, evh_event, evh_status, evh_str};

use super::host_api::{check_and_append, InstanceHost};
use super::instance::{Delivered, Instance};
use crate::log::{set_strings, AppendError, ChunkBuilder, EventRef};

/// Where a baseline sends a producer's events (`EmitTarget::Baseline`).
pub enum Baseline {
    /// Straight to these consumers' `on_events`, unchecked and uncopied.
    Direct(Vec<Arc<Instance>>),
    /// Checked and copied as for the log, then handed to `append`.
    Transport {
        append: Box<dyn Fn(ChunkBuilder, bool) -> Result<(), AppendError> + Send + Sync>,
        max_event_bytes: usize,
    },
}

impl Baseline {
    /// `emit` for a producer whose target is this baseline.
    ///
    /// # Safety
    /// The ABI's emit contract: `events` holds `n` events, valid for this call.
    pub(super) unsafe fn emit(
        &self,
        host: &InstanceHost,
        events: *const evh_event,
        n: usize,
        flags: u32,
    ) -> evh_status {
        match self {
            // SAFETY: forwarded from the caller.
            Baseline::Direct(consumers) => unsafe { emit_direct(consumers, events, n) },
            // SAFETY: forwarded from the caller.
            Baseline::Transport { append, max_event_bytes } => unsafe {
                check_and_append(host, events, n, flags, *max_event_bytes, append)
            },
        }
    }
}

/// Hands a producer's events straight to consumers.
///
/// # Safety
/// `events` must hold `n` events of `events[0].struct_size` bytes, valid for the call.
unsafe fn emit_direct(consumers: &[Arc<Instance>], events: *const evh_event, n: usize) -> evh_status {
    if n == 0 {
        return evh::EVH_OK;
    }
    // SAFETY: n >= 1 events, as the caller promises.
    let stride = unsafe { (*events).struct_size } as usize;
    let pointers: Vec<*const evh_event> = (0..n).map(|i| events.cast::<u8>().wrapping_add(i * stride).cast()).collect();
    for consumer in consumers {
        // SAFETY: the producer's events are valid for the duration of this emit call, and
        // the one producer thread is the only caller of these consumers.
        unsafe { consumer.deliver_raw(&pointers) };
    }
    evh::EVH_OK
}

impl Instance {
    /// Consumer: hands one owned event to `on_events`. The caller keeps one worker per
    /// consumer, as the delivery stage does.
    pub fn deliver_owned(&self, event: &OwnedEvent) -> Delivered {
        // SAFETY: the event and what it points to belong to `event`, which is borrowed for
        // the call; one worker per consumer, as the caller promises.
        unsafe { self.deliver_raw(&[&event.event]) }
    }
}

/// One event with its own copy of everything it points to: what a log built from channels
/// carries per message, so that the baseline pays for one owned event and nothing of the
/// log's machinery.
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
}
