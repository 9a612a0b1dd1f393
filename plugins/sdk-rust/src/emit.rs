//! Emitting: `OutEvent` (an event a producer builds, borrowing or owning its parts) and
//! `Emitter` (turns a slice of them into one `api.emit` call, reusing its buffers).

use std::borrow::Cow;
use std::sync::Arc;

use evhost_abi::{
    evh_attr, evh_bytes, evh_event, evh_str, struct_size, EVH_EMIT_BLOCK, EVH_EMIT_COMMIT, EVH_EMIT_NONBLOCK, EVH_OK,
};

use crate::commit::Ticket;
use crate::context::HostCell;
use crate::error::EmitError;

// An event to emit lives in `evhost-cloudevents`, whose decoders return it too.
pub use evhost_cloudevents::OutEvent;

fn view(s: &str) -> evh_str {
    evh_str::from_str(s)
}

fn view_opt(s: &Option<Cow<'_, str>>) -> evh_str {
    s.as_deref().map_or(evh_str::EMPTY, view)
}

/// Sends batches of events to the host's log for one producer instance. `Send`: move it to
/// any thread; `Context::emitter` makes more. It keeps scratch buffers between calls, so a
/// producer that reuses one emitter allocates nothing per batch once they have grown.
pub struct Emitter {
    cell: Arc<HostCell>,
    events: Vec<evh_event>,
    attrs: Vec<evh_attr>,
    /// After `emit_like`: the shared attributes every event in `events` still holds, so that
    /// the next batch like it writes only ids and data (a 176-byte struct per event cost the
    /// Rust `sequence` a third of its speed against C, which fills its events once).
    like: Option<evh_event>,
}

impl Emitter {
    pub(crate) fn new(cell: Arc<HostCell>) -> Self {
        Emitter { cell, events: Vec::new(), attrs: Vec::new(), like: None }
    }

    /// Appends `events` to the log, atomically and in order, in ONE host call; waits while
    /// the log is full. On error none of them was accepted. An empty slice does nothing.
    ///
    /// OWNERSHIP: the host copies everything before this returns; `events` stay yours.
    pub fn emit(&mut self, events: &[OutEvent<'_>]) -> Result<(), EmitError> {
        self.send(events, EVH_EMIT_BLOCK)
    }

    /// Like `emit`, but answers `Err(EmitError::Busy)` at once when the log is full.
    pub fn try_emit(&mut self, events: &[OutEvent<'_>]) -> Result<(), EmitError> {
        self.send(events, EVH_EMIT_NONBLOCK)
    }

    /// Like `emit`, and returns the batch's [`Ticket`]: wait on it, or await
    /// `ticket.committed()`, before acknowledging the events to whoever sent them. ABI 1.1;
    /// against a 1.0 host the ticket is committed at once (accepted is committed there).
    pub fn emit_tracked(&mut self, events: &[OutEvent<'_>]) -> Result<Ticket, EmitError> {
        self.build(events)?;
        self.submit_tracked(EVH_EMIT_BLOCK)
    }

    /// Like `emit_tracked`, but answers `Err(EmitError::Busy)` at once when the log is full.
    /// Never waits: the one to call from an async task.
    pub fn try_emit_tracked(&mut self, events: &[OutEvent<'_>]) -> Result<Ticket, EmitError> {
        self.build(events)?;
        self.submit_tracked(EVH_EMIT_NONBLOCK)
    }

    /// Like `emit`, but returns only once the batch is committed (`EVH_EMIT_COMMIT`): for a
    /// producer that handles one request per thread. `Err(EmitError::Stopped)` when the host
    /// stopped before the batch was committed.
    pub fn emit_committed(&mut self, events: &[OutEvent<'_>]) -> Result<(), EmitError> {
        self.build(events)?;
        self.submit_tracked(EVH_EMIT_BLOCK | EVH_EMIT_COMMIT).map(drop)
    }

    /// True once the host asked this instance to stop.
    pub fn stop_requested(&self) -> bool {
        self.cell.stop_requested()
    }

    /// As [`Context::wait_stop`](crate::Context::wait_stop): sleeps until the host asks the
    /// instance to stop, or `timeout` passes; true when it was asked.
    pub fn wait_stop(&self, timeout: std::time::Duration) -> bool {
        self.cell.wait_stop(timeout)
    }

    /// Emits events that share every attribute of `template` but differ in id and data, in
    /// ONE host call, like [`emit`](Self::emit) (the template's own id is not used). The
    /// fast path for a producer of many similar events: no `OutEvent` is built per event.
    ///
    /// ```
    /// # use evhost_sdk::{EmitError, Emitter, OutEvent};
    /// # fn send(emitter: &mut Emitter) -> Result<(), EmitError> {
    /// let template = OutEvent::new("", "/sensors/7", "com.example.reading").datacontenttype("text/plain");
    /// let readings = [("r1", &b"20.5"[..]), ("r2", b"21.0")];
    /// emitter.emit_like(&template, readings)
    /// # }
    /// ```
    pub fn emit_like<'a>(
        &mut self,
        template: &OutEvent<'_>,
        events: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<(), EmitError> {
        self.send_like(template, events, EVH_EMIT_BLOCK)
    }

    /// Like `emit_like`, but answers `Err(EmitError::Busy)` at once when the log is full.
    pub fn try_emit_like<'a>(
        &mut self,
        template: &OutEvent<'_>,
        events: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<(), EmitError> {
        self.send_like(template, events, EVH_EMIT_NONBLOCK)
    }

    fn send_like<'a>(
        &mut self,
        template: &OutEvent<'_>,
        events: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        flags: u32,
    ) -> Result<(), EmitError> {
        if let Some(name) = [("source", &template.source), ("type", &template.ty)]
            .into_iter()
            .find_map(|(name, value)| value.is_empty().then_some(name))
        {
            return Err(EmitError::Invalid(format!("the template has an empty `{name}`")));
        }
        self.attrs.clear();
        self.attrs.extend(template.extensions.iter().map(|(k, v)| evh_attr { key: view(k), value: view(v) }));
        let extensions = if self.attrs.is_empty() { std::ptr::null() } else { self.attrs.as_ptr() };
        let shared = raw(template, extensions);
        // Views compare by pointer and length: equal ones read the same memory, so events
        // that hold them hold the template's attributes as they are now.
        if !self.like.is_some_and(|like| same_shared(&like, &shared)) {
            self.events.clear();
            self.like = Some(shared);
        }
        // First into the events the last batch left, then new ones.
        let mut events = events.into_iter();
        let mut n = 0;
        for (event, (id, data)) in self.events.iter_mut().zip(&mut events) {
            if id.is_empty() {
                return Err(empty_id(n));
            }
            (event.id, event.data) = (view(id), evh_bytes::from_slice(data));
            n += 1;
        }
        if n == self.events.len() {
            for (id, data) in events {
                if id.is_empty() {
                    return Err(empty_id(n));
                }
                self.events.push(evh_event { id: view(id), data: evh_bytes::from_slice(data), ..shared });
                n += 1;
            }
        }
        if n == 0 {
            return Ok(());
        }
        let status = self.cell.emit(&self.events[..n], flags);
        Self::answer(status)
    }

    fn send(&mut self, events: &[OutEvent<'_>], flags: u32) -> Result<(), EmitError> {
        self.build(events)?;
        self.submit(flags)
    }

    /// Builds the host's views of `events` in `self.events`.
    fn build(&mut self, events: &[OutEvent<'_>]) -> Result<(), EmitError> {
        self.like = None;
        // One pass over the events. An event's extensions are held by their index until the
        // attribute buffer stops growing; then a pass over the events that have any turns
        // the indexes into pointers.
        self.events.clear();
        self.attrs.clear();
        for (i, event) in events.iter().enumerate() {
            if event.id.is_empty() || event.source.is_empty() || event.ty.is_empty() {
                return Err(missing_attribute(i, event));
            }
            let first_attr = self.attrs.len();
            self.attrs.extend(event.extensions.iter().map(|(k, v)| evh_attr { key: view(k), value: view(v) }));
            let extensions = match event.extensions.len() {
                0 => std::ptr::null(),
                _ => std::ptr::without_provenance(first_attr),
            };
            self.events.push(raw(event, extensions));
        }
        if !self.attrs.is_empty() {
            let attrs = self.attrs.as_ptr();
            for event in self.events.iter_mut().filter(|e| e.extensions_len > 0) {
                event.extensions = attrs.wrapping_add(event.extensions.addr());
            }
        }
        Ok(())
    }

    /// Hands the events built in `self.events` to the host with `emit_tracked`; an empty
    /// batch too, so that its ticket is the watermark.
    fn submit_tracked(&mut self, flags: u32) -> Result<Ticket, EmitError> {
        let result = self.cell.emit_tracked(&self.events, flags);
        // The buffers point into the caller's events: drop the pointers now.
        self.events.clear();
        self.attrs.clear();
        match result {
            Some((EVH_OK, seq)) => Ok(Ticket::new(seq, self.cell.clone())),
            Some((other, _)) => Err(EmitError::from_status(other)),
            None => Err(EmitError::Stopped),
        }
    }

    /// Hands the events built in `self.events` to the host.
    fn submit(&mut self, flags: u32) -> Result<(), EmitError> {
        if self.events.is_empty() {
            return Ok(());
        }
        let status = self.cell.emit(&self.events, flags);
        // The buffers point into the caller's events: drop the pointers now.
        self.events.clear();
        self.attrs.clear();
        Self::answer(status)
    }

    fn answer(status: Option<i32>) -> Result<(), EmitError> {
        match status {
            Some(EVH_OK) => Ok(()),
            Some(other) => Err(EmitError::from_status(other)),
            None => Err(EmitError::Stopped),
        }
    }
}

/// True when two events hold the same attributes but id and data: the same views.
fn same_shared(a: &evh_event, b: &evh_event) -> bool {
    let same = |x: evh_str, y: evh_str| x.ptr == y.ptr && x.len == y.len;
    same(a.source, b.source)
        && same(a.specversion, b.specversion)
        && same(a.r#type, b.r#type)
        && same(a.subject, b.subject)
        && same(a.datacontenttype, b.datacontenttype)
        && same(a.dataschema, b.dataschema)
        && same(a.time, b.time)
        && a.extensions == b.extensions
        && a.extensions_len == b.extensions_len
}

/// The host's view of `event`, with `extensions` pointing at its attributes.
fn raw(event: &OutEvent<'_>, extensions: *const evh_attr) -> evh_event {
    evh_event {
        struct_size: struct_size::<evh_event>(),
        reserved: 0,
        seq: 0,
        id: view(&event.id),
        source: view(&event.source),
        specversion: evh_str::EMPTY,
        r#type: view(&event.ty),
        subject: view_opt(&event.subject),
        datacontenttype: view_opt(&event.datacontenttype),
        dataschema: view_opt(&event.dataschema),
        time: view_opt(&event.time),
        data: evh_bytes::from_slice(&event.data),
        extensions,
        extensions_len: event.extensions.len(),
    }
}

#[cold]
fn empty_id(i: usize) -> EmitError {
    EmitError::Invalid(format!("event {i} of the batch has an empty `id`"))
}

#[cold]
fn missing_attribute(i: usize, event: &OutEvent<'_>) -> EmitError {
    let name = [("id", &event.id), ("source", &event.source), ("type", &event.ty)]
        .into_iter()
        .find_map(|(name, value)| value.is_empty().then_some(name))
        .unwrap_or("id");
    EmitError::Invalid(format!("event {i} of the batch has an empty `{name}`"))
}

impl Clone for Emitter {
    /// Another emitter for the same instance, with buffers of its own.
    fn clone(&self) -> Self {
        Emitter::new(self.cell.clone())
    }
}
