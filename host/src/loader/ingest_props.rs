//! Property tests of event validation at ingest (the `ingest` fuzz target; see
//! docs/fuzzing.md): batches built here as a C producer would build them, with attributes of
//! any bytes (invalid UTF-8, NULL views, missing required attributes, bad times, bad
//! extension names, oversized events), some sharing the previous event's attribute
//! pointers or extension array as producers do. `read_batch` must never panic, must refuse
//! exactly the batches that hold an invalid event, with a message that starts with the first
//! bad event's index, and must store an accepted batch byte for byte. A simple model of the
//! rules (`first_error`) is the oracle. The committed corpus in `host/fuzz-corpus/ingest/`
//! is replayed on every run.

use evh::evh_attr;
use evhost_fuzz_support::rfc3339_time;
use proptest::prelude::*;

use super::*;
use crate::log::Chunk;

/// One string or data view as a producer passes it: bytes, or NULL with a length.
#[derive(Debug, Clone, PartialEq)]
enum View {
    Bytes(Vec<u8>),
    Null(usize),
}

impl View {
    fn text(s: impl AsRef<str>) -> View {
        View::Bytes(s.as_ref().as_bytes().to_vec())
    }

    fn len(&self) -> usize {
        match self {
            View::Bytes(b) => b.len(),
            View::Null(len) => *len,
        }
    }

    fn evh(&self) -> evh_str {
        match self {
            View::Bytes(b) => evh_str { ptr: b.as_ptr(), len: b.len() },
            View::Null(len) => evh_str { ptr: std::ptr::null(), len: *len },
        }
    }

    /// The UTF-8 text, or why the host must refuse it.
    fn utf8(&self) -> Option<&[u8]> {
        match self {
            View::Bytes(b) => std::str::from_utf8(b).is_ok().then_some(b),
            View::Null(_) => None,
        }
    }
}

/// A producer's extension array: none, NULL with a length, or attributes.
#[derive(Debug, Clone, PartialEq)]
enum Extensions {
    Array(Vec<(View, View)>),
    Null(usize),
}

/// One event of a batch: the eight strings in `STRING_NAMES` order, whether its time is one
/// the host takes (known by construction, not computed by the code under test), data and
/// extensions, and whether it reuses the previous event's pointers.
#[derive(Debug, Clone)]
struct Spec {
    strings: [View; 8],
    time_ok: bool,
    data: View,
    extensions: Extensions,
    share_attributes: bool,
    /// With `share_attributes`: the one attribute (of `STRING_NAMES`, not the id) it has of
    /// its own, so that only that pointer differs from the previous event's.
    own: Option<usize>,
    share_extensions: bool,
}

const ID: usize = 0;
const SOURCE: usize = 1;
const SPECVERSION: usize = 2;
const TYPE: usize = 3;
const TIME: usize = 7;

/// A batch laid out in memory as a C producer lays it out.
struct Built {
    _attrs: Vec<Vec<evh_attr>>,
    events: Vec<evh_event>,
}

fn build(specs: &[Spec]) -> Built {
    let attrs: Vec<Vec<evh_attr>> = specs
        .iter()
        .map(|s| match &s.extensions {
            Extensions::Array(list) => list.iter().map(|(k, v)| evh_attr { key: k.evh(), value: v.evh() }).collect(),
            Extensions::Null(_) => Vec::new(),
        })
        .collect();
    let mut events: Vec<evh_event> = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let mut e = empty_event();
        let mut views: [evh_str; 8] = std::array::from_fn(|k| spec.strings[k].evh());
        if let (true, Some(previous)) = (spec.share_attributes, events.last()) {
            views = strings(previous);
            for k in [ID].into_iter().chain(spec.own) {
                views[k] = spec.strings[k].evh();
            }
        }
        set_strings(&mut e, views);
        e.data = evh::evh_bytes { ptr: spec.data.evh().ptr, len: spec.data.len() };
        (e.extensions, e.extensions_len) = match &spec.extensions {
            Extensions::Array(list) => (attrs[i].as_ptr(), list.len()),
            Extensions::Null(len) => (std::ptr::null(), *len),
        };
        if let (true, Some(previous)) = (spec.share_extensions, events.last()) {
            (e.extensions, e.extensions_len) = (previous.extensions, previous.extensions_len);
        }
        events.push(e);
    }
    Built { _attrs: attrs, events }
}

/// Makes the specs say what `build` lays out: a shared attribute or extension is the
/// previous event's.
fn share(mut specs: Vec<Spec>) -> Vec<Spec> {
    for i in 1..specs.len() {
        let previous = specs[i - 1].clone();
        if specs[i].share_attributes {
            let own = specs[i].own;
            for k in (1..8).filter(|k| own != Some(*k)) {
                specs[i].strings[k] = previous.strings[k].clone();
            }
            if own != Some(TIME) {
                specs[i].time_ok = previous.time_ok;
            }
        }
        if specs[i].share_extensions {
            specs[i].extensions = previous.extensions;
        }
    }
    specs
}

/// What the host must answer for a batch: the first bad event and whether it is too large,
/// in the order the rules are documented in ingest.rs (a non-UTF-8 id is found last).
fn first_error(specs: &[Spec], max_event_bytes: usize) -> Option<(usize, bool)> {
    for (i, s) in specs.iter().enumerate() {
        let invalid = Some((i, false));
        if s.strings[1..].iter().any(|v| v.utf8().is_none())
            || s.strings[SOURCE].len() == 0
            || s.strings[TYPE].len() == 0
            || !matches!(s.strings[SPECVERSION].utf8(), Some(b"" | b"1.0"))
            || !s.time_ok
            || matches!(s.strings[ID], View::Null(_))
            || s.strings[ID].len() == 0
            || matches!(s.data, View::Null(_))
        {
            return invalid;
        }
        let extensions = match &s.extensions {
            Extensions::Array(list) => list.iter().map(|(k, v)| k.len() + v.len()).sum(),
            Extensions::Null(_) => 0,
        };
        let size = s.strings.iter().map(View::len).sum::<usize>() + s.data.len() + extensions;
        if size > max_event_bytes {
            return Some((i, true));
        }
        let name_ok = |k: &[u8]| !k.is_empty() && k.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let extensions_ok = match &s.extensions {
            Extensions::Null(len) => *len == 0,
            Extensions::Array(list) => list.iter().all(|(k, v)| k.utf8().is_some_and(name_ok) && v.utf8().is_some()),
        };
        if !extensions_ok {
            return invalid;
        }
    }
    specs.iter().position(|s| s.strings[ID].utf8().is_none()).map(|i| (i, false))
}

/// Runs `read_batch` on the specs and checks its answer against the model.
fn check(specs: &[Spec], max_event_bytes: usize) -> Result<(), TestCaseError> {
    let built = build(specs);
    // SAFETY: the events and every buffer they point into (in `specs` and `built`) are alive
    // for the call, and NULL views are NULL, as the ABI allows.
    let got = unsafe { read_batch(built.events.as_ptr(), built.events.len(), max_event_bytes) };
    match (first_error(specs, max_event_bytes), got) {
        (None, Ok(builder)) => assert_stored(specs, &builder.finish()),
        (Some((index, too_large)), Err(Refused(status, message))) => {
            let status_wanted = if too_large { evh::EVH_ERR_TOO_LARGE } else { evh::EVH_ERR_INVALID_ARGUMENT };
            prop_assert_eq!(evh::status_name(status), evh::status_name(status_wanted), "{}", message);
            let named =
                message.starts_with(&format!("event {index}:")) || message.starts_with(&format!("event {index} ("));
            prop_assert!(named, "{:?} does not start with event {}", message, index);
        }
        (None, Err(Refused(_, message))) => prop_assert!(false, "a valid batch was refused: {}", message),
        (Some((index, _)), Ok(_)) => prop_assert!(false, "a batch with a bad event {} was taken", index),
    }
    Ok(())
}

/// Asserts that the chunk holds the specs' events byte for byte.
fn assert_stored(specs: &[Spec], chunk: &Chunk) {
    let stored: Vec<_> = chunk.refs(chunk.first_seq..chunk.end_seq()).collect();
    assert_eq!(stored.len(), specs.len());
    for (spec, event) in specs.iter().zip(stored) {
        let got = [
            event.id(),
            event.source(),
            event.specversion(),
            event.ty(),
            event.subject(),
            event.datacontenttype(),
            event.dataschema(),
            event.time(),
        ];
        for (k, value) in got.iter().enumerate() {
            // The log reads an empty specversion as "1.0", as the ABI says.
            let wanted = match &spec.strings[k] {
                View::Bytes(b) if k == SPECVERSION && b.is_empty() => View::text("1.0"),
                other => other.clone(),
            };
            assert_eq!(View::text(value), wanted, "{}", STRING_NAMES[k]);
        }
        assert_eq!(View::Bytes(event.data().to_vec()), spec.data);
        let extensions: Vec<_> = event.extensions().map(|(k, v)| (View::text(k), View::text(v))).collect();
        let wanted = match &spec.extensions {
            Extensions::Array(list) => list.clone(),
            Extensions::Null(_) => Vec::new(),
        };
        assert_eq!(extensions, wanted);
    }
}

/// A time the host refuses: a good one broken in one place, or too short to be one.
fn bad_time() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        rfc3339_time(0..60).prop_map(|t| t.replacen('T', "t", 1).into_bytes()),
        rfc3339_time(0..60).prop_map(|t| t.replacen('T', " ", 1).into_bytes()),
        rfc3339_time(0..60).prop_map(|t| format!("{}z", &t[..19]).into_bytes()),
        rfc3339_time(0..60).prop_map(|t| t.as_bytes()[..19].to_vec()),
        rfc3339_time(0..60).prop_map(|t| format!("{t} ").into_bytes()),
        rfc3339_time(0..60).prop_map(|t| format!("{}13{}", &t[..5], &t[7..]).into_bytes()),
        rfc3339_time(0..60).prop_map(|t| format!("{}:60{}", &t[..16], &t[19..]).into_bytes()),
        rfc3339_time(0..60).prop_map(|t| {
            let mut b = t.into_bytes();
            b[0] = 0xff;
            b
        }),
        "[a-z0-9 :-]{1,19}".prop_map(String::into_bytes),
    ]
}

/// Text of any kind for an optional attribute: ASCII, any UTF-8, or none.
fn optional_text() -> impl Strategy<Value = View> {
    prop_oneof![3 => Just(View::Bytes(Vec::new())), 2 => "[ -~]{1,12}".prop_map(View::text), 1 => "\\PC{1,8}".prop_map(View::text)]
}

fn required_text() -> impl Strategy<Value = View> {
    prop_oneof![3 => "[a-zA-Z0-9/._-]{1,12}".prop_map(View::text), 1 => "\\PC{1,8}".prop_map(View::text)]
}

fn extension() -> impl Strategy<Value = (View, View)> {
    ("[a-z0-9]{1,10}".prop_map(View::text), "\\PC{0,10}".prop_map(View::text))
}

/// A valid event (whether it shares the previous event's pointers is decided here too).
fn valid_event() -> impl Strategy<Value = Spec> {
    let strings = (
        required_text(),
        required_text(),
        prop::sample::select(vec!["", "1.0"]).prop_map(View::text),
        required_text(),
        (optional_text(), optional_text(), optional_text()),
        prop::option::of(rfc3339_time(0..60)),
    );
    let data = prop::collection::vec(any::<u8>(), 0..48).prop_map(View::Bytes);
    let extensions = prop::collection::vec(extension(), 0..3).prop_map(Extensions::Array);
    let own = prop::option::weighted(0.3, 1..8usize);
    (strings, data, extensions, (prop::bool::weighted(0.4), own, prop::bool::weighted(0.3))).prop_map(
        |((id, source, specversion, ty, (subject, content_type, schema), time), data, extensions, (a, own, x))| Spec {
            strings: [id, source, specversion, ty, subject, content_type, schema, View::text(time.unwrap_or_default())],
            time_ok: true,
            data,
            extensions,
            share_attributes: a,
            own,
            share_extensions: x,
        },
    )
}

/// One way to spoil an event.
#[derive(Debug, Clone)]
enum Spoil {
    /// Attribute `k` (of `STRING_NAMES`) becomes these bytes, or NULL with a length.
    Attribute(usize, View),
    Time(Vec<u8>),
    Data(usize),
    ExtensionsNull(usize),
    Extension(View, View),
}

fn spoil() -> impl Strategy<Value = Spoil> {
    let bad_bytes = prop_oneof![
        Just(View::Bytes(Vec::new())),
        (1..6usize).prop_map(View::Null),
        prop::collection::vec(any::<u8>(), 1..8).prop_map(View::Bytes),
        Just(View::Bytes(b"\xc3\x28".to_vec())),
        Just(View::Bytes(b"ok\xe2\x82".to_vec())),
        "[0-9.]{1,4}".prop_map(View::text),
    ];
    prop_oneof![
        (0..8usize, bad_bytes.clone()).prop_map(|(k, v)| Spoil::Attribute(k, v)),
        bad_time().prop_map(Spoil::Time),
        (1..64usize).prop_map(Spoil::Data),
        (1..4usize).prop_map(Spoil::ExtensionsNull),
        ("[a-zA-Z0-9_.-]{0,6}".prop_map(View::text), "[a-z]{1,4}".prop_map(View::text))
            .prop_map(|(k, v)| Spoil::Extension(k, v)),
        ("[a-z]{1,4}".prop_map(View::text), bad_bytes.clone()).prop_map(|(k, v)| Spoil::Extension(k, v)),
        (bad_bytes, "[a-z]{1,4}".prop_map(View::text)).prop_map(|(k, v)| Spoil::Extension(k, v)),
    ]
}

impl Spoil {
    fn apply(self, spec: &mut Spec) {
        match self {
            Spoil::Attribute(k, view) => {
                if k == TIME {
                    spec.time_ok = view.len() == 0;
                }
                spec.strings[k] = view;
            }
            Spoil::Time(bytes) => {
                spec.strings[TIME] = View::Bytes(bytes);
                spec.time_ok = false;
            }
            Spoil::Data(len) => spec.data = View::Null(len),
            Spoil::ExtensionsNull(len) => spec.extensions = Extensions::Null(len),
            Spoil::Extension(key, value) => match &mut spec.extensions {
                Extensions::Array(list) => list.push((key, value)),
                Extensions::Null(_) => spec.extensions = Extensions::Array(vec![(key, value)]),
            },
        }
    }
}

/// A batch where some events are spoiled, and a limit that some events may be over.
fn any_batch() -> impl Strategy<Value = (Vec<Spec>, usize)> {
    let event = (valid_event(), prop::collection::vec(spoil(), 0..3), prop::bool::weighted(0.25)).prop_map(
        |(mut spec, spoils, spoiled)| {
            if spoiled {
                spoils.into_iter().for_each(|s| s.apply(&mut spec));
            }
            spec
        },
    );
    (prop::collection::vec(event, 1..8).prop_map(share), prop_oneof![3 => Just(1 << 20), 1 => 1..200usize])
}

proptest! {
    #![proptest_config(evhost_fuzz_support::config(5000))]

    #[test]
    fn valid_batches_are_stored_byte_for_byte(specs in prop::collection::vec(valid_event(), 1..8).prop_map(share)) {
        check(&specs, 1 << 20)?;
    }

    #[test]
    fn a_batch_is_refused_exactly_when_an_event_is_bad((specs, max_event_bytes) in any_batch()) {
        check(&specs, max_event_bytes)?;
    }
}

/// Reads a corpus file: one event per paragraph, one `field: value` line per attribute set,
/// values with `\xNN` escapes; `field: NULL 3` is a NULL view of length 3; `ext: key value`
/// adds an extension; `max: N` (first paragraph) sets the limit; `share` reuses the
/// previous event's attribute pointers, `share-but: <name>` all of them but that one's,
/// `share-extensions` its extension array.
fn read_corpus(text: &str) -> (Vec<Spec>, usize) {
    let unescape = |s: &str| -> View {
        if let Some(len) = s.strip_prefix("NULL ") {
            return View::Null(len.parse().expect("NULL <length>"));
        }
        let mut out = Vec::new();
        let mut rest = s.as_bytes();
        while let Some((&b, tail)) = rest.split_first() {
            match (b, tail) {
                (b'\\', [b'x', h, l, more @ ..]) => {
                    out.push(u8::from_str_radix(std::str::from_utf8(&[*h, *l]).expect("hex"), 16).expect("hex"));
                    rest = more;
                }
                _ => {
                    out.push(b);
                    rest = tail;
                }
            }
        }
        View::Bytes(out)
    };
    let mut max = 1 << 20;
    let mut specs = Vec::new();
    for paragraph in text.split("\n\n").filter(|p| !p.trim().is_empty()) {
        let mut spec = Spec {
            strings: std::array::from_fn(|_| View::Bytes(Vec::new())),
            time_ok: true,
            data: View::Bytes(Vec::new()),
            extensions: Extensions::Array(Vec::new()),
            share_attributes: false,
            own: None,
            share_extensions: false,
        };
        for line in paragraph.lines().filter(|l| !l.starts_with('#')) {
            let (field, value) = line.split_once(": ").unwrap_or((line, ""));
            match field {
                "max" => max = value.parse().expect("max: <bytes>"),
                "share" => spec.share_attributes = true,
                "share-but" => {
                    spec.share_attributes = true;
                    spec.own = STRING_NAMES.iter().position(|n| *n == value);
                }
                "share-extensions" => spec.share_extensions = true,
                "data" => spec.data = unescape(value),
                "extensions" => spec.extensions = Extensions::Null(value.parse().expect("extensions: <length>")),
                "ext" => {
                    let (k, v) = value.split_once(' ').unwrap_or((value, ""));
                    Spoil::Extension(unescape(k), unescape(v)).apply(&mut spec);
                }
                name => {
                    let k =
                        STRING_NAMES.iter().position(|n| *n == name).unwrap_or_else(|| panic!("unknown field {name}"));
                    spec.strings[k] = unescape(value);
                }
            }
        }
        let time = &spec.strings[TIME];
        spec.time_ok = time.len() == 0 || time.utf8().is_some_and(is_rfc3339);
        specs.push(spec);
    }
    (share(specs), max)
}

/// Every file in `host/fuzz-corpus/ingest/`: `ok-*` must be stored, `refuse-*` refused, both
/// as the model says.
#[test]
fn the_corpus_replays() {
    for (name, file) in evhost_fuzz_support::corpus(env!("CARGO_MANIFEST_DIR"), "ingest", 8) {
        let (specs, max) = read_corpus(&std::fs::read_to_string(&file).expect("a corpus file"));
        let wanted = if name.starts_with("ok-") { None } else { Some(()) };
        assert_eq!(first_error(&specs, max).map(|_| ()), wanted, "{name}: the model disagrees with the file name");
        check(&specs, max).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
