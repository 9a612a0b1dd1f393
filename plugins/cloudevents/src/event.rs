//! An event's attributes and data: [`CloudEvent`], the read-only view every format in this
//! crate is written against, and [`OutEvent`], an event as parts, borrowed or owned.
//!
//! The host's log entries and the SDK's delivered events are views over memory laid out by
//! the ABI; each implements [`CloudEvent`] beside its own accessors, so the JSON format and
//! the binary-mode headers are written once for all of them.

use std::borrow::Cow;

use crate::attributes::SPECVERSION;

/// An event's attributes and data, read-only. Optional attributes that are absent read as
/// `None` (never as an empty string), so every format writes an event's absences alike.
pub trait CloudEvent {
    /// The `specversion` attribute: [`SPECVERSION`] unless the event says otherwise.
    fn specversion(&self) -> &str {
        SPECVERSION
    }
    fn id(&self) -> &str;
    fn source(&self) -> &str;
    /// The `type` attribute.
    fn ty(&self) -> &str;
    fn subject(&self) -> Option<&str>;
    fn datacontenttype(&self) -> Option<&str>;
    fn dataschema(&self) -> Option<&str>;
    /// The `time` attribute (RFC 3339).
    fn time(&self) -> Option<&str>;
    /// The data bytes; empty when the event has none.
    fn data(&self) -> &[u8];
    /// The extension attributes as `(key, value)` pairs, in the event's order.
    fn extensions(&self) -> impl Iterator<Item = (&str, &str)> + '_;
}

/// An event to emit. `id`, `source` and `ty` are required and must not be empty; every
/// other attribute is optional. Each part is a `Cow`: borrow from your own buffers on hot
/// paths, or own the values. The host assigns the sequence number and `specversion` "1.0".
///
/// On a hot path of similar events, the SDK's `Emitter::emit_like` builds no `OutEvent` per
/// event. Otherwise write a struct literal ending in `..OutEvent::default()` rather than
/// chaining the builder methods: each of those moves the whole struct (over 200 bytes),
/// which shows on a hot path.
///
/// ```
/// # use evhost_cloudevents::OutEvent;
/// let payload = vec![1u8, 2, 3];
/// let event = OutEvent::new("42", "/my/source", "com.example.thing")
///     .subject("thing-42")
///     .datacontenttype("application/octet-stream")
///     .data(&payload[..])
///     .extension("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
/// assert_eq!(event.id, "42");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutEvent<'a> {
    pub id: Cow<'a, str>,
    pub source: Cow<'a, str>,
    pub ty: Cow<'a, str>,
    pub subject: Option<Cow<'a, str>>,
    pub datacontenttype: Option<Cow<'a, str>>,
    pub dataschema: Option<Cow<'a, str>>,
    /// RFC 3339 timestamp.
    pub time: Option<Cow<'a, str>>,
    pub data: Cow<'a, [u8]>,
    /// Extension attributes as `(key, value)`; an empty `Vec` does not allocate.
    pub extensions: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> OutEvent<'a> {
    /// An event with the three required attributes and nothing else.
    pub fn new(id: impl Into<Cow<'a, str>>, source: impl Into<Cow<'a, str>>, ty: impl Into<Cow<'a, str>>) -> Self {
        OutEvent { id: id.into(), source: source.into(), ty: ty.into(), ..Default::default() }
    }

    /// Sets `subject`.
    pub fn subject(mut self, subject: impl Into<Cow<'a, str>>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Sets `datacontenttype`.
    pub fn datacontenttype(mut self, value: impl Into<Cow<'a, str>>) -> Self {
        self.datacontenttype = Some(value.into());
        self
    }

    /// Sets `dataschema`.
    pub fn dataschema(mut self, value: impl Into<Cow<'a, str>>) -> Self {
        self.dataschema = Some(value.into());
        self
    }

    /// Sets `time` (RFC 3339).
    pub fn time(mut self, value: impl Into<Cow<'a, str>>) -> Self {
        self.time = Some(value.into());
        self
    }

    /// Sets the data bytes (`&[u8]` borrows, `Vec<u8>` owns).
    pub fn data(mut self, data: impl Into<Cow<'a, [u8]>>) -> Self {
        self.data = data.into();
        self
    }

    /// Adds an extension attribute.
    pub fn extension(mut self, key: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) -> Self {
        self.extensions.push((key.into(), value.into()));
        self
    }
}

/// An `OutEvent` read as the event it will be once emitted: the host assigns `specversion`,
/// and takes an empty optional attribute as absent.
impl CloudEvent for OutEvent<'_> {
    fn id(&self) -> &str {
        &self.id
    }
    fn source(&self) -> &str {
        &self.source
    }
    fn ty(&self) -> &str {
        &self.ty
    }
    fn subject(&self) -> Option<&str> {
        present(&self.subject)
    }
    fn datacontenttype(&self) -> Option<&str> {
        present(&self.datacontenttype)
    }
    fn dataschema(&self) -> Option<&str> {
        present(&self.dataschema)
    }
    fn time(&self) -> Option<&str> {
        present(&self.time)
    }
    fn data(&self) -> &[u8] {
        &self.data
    }
    fn extensions(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.extensions.iter().map(|(key, value)| (&**key, &**value))
    }
}

fn present<'a>(value: &'a Option<Cow<'_, str>>) -> Option<&'a str> {
    value.as_deref().filter(|value| !value.is_empty())
}
