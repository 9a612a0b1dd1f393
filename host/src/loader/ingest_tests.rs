//! `read_batch` on batches built here, as a C producer would build them: what it stores, and
//! the message for each kind of bad event. (End-to-end tests cover the path through `emit`.)

use super::*;
use crate::log::Chunk;
use evh::evh_attr;

fn view(bytes: &[u8]) -> evh_str {
    evh_str { ptr: bytes.as_ptr(), len: bytes.len() }
}

/// A valid event; tests spoil one attribute at a time.
fn event(id: &'static [u8]) -> evh_event {
    let mut e = empty_event();
    e.id = view(id);
    e.source = view(b"/test");
    e.r#type = view(b"dev.evhost.test");
    e.data = evh::evh_bytes::from_slice(b"data");
    e
}

fn read(events: &[evh_event]) -> Result<Chunk, Refused> {
    // SAFETY: the events and everything they point to are alive for the call.
    unsafe { read_batch(events.as_ptr(), events.len(), 1024) }.map(ChunkBuilder::finish)
}

/// The message for a batch whose event 1 is spoiled by `spoil`.
fn refusal(spoil: impl FnOnce(&mut evh_event)) -> String {
    let mut events = [event(b"a"), event(b"b"), event(b"c")];
    spoil(&mut events[1]);
    match read(&events) {
        Ok(_) => panic!("the batch was taken"),
        Err(Refused(status, message)) => format!("{}: {message}", evh::status_name(status)),
    }
}

#[test]
fn a_batch_is_stored_whole_with_each_event_s_own_attributes() {
    let traceparent = [evh_attr { key: view(b"traceparent"), value: view(b"00-1") }];
    let mut events = [event(b"1"), event("é2".as_bytes()), event(b"3"), event(b"4")];
    events[1].subject = view(b"only-this-one");
    // Events 2 and 3 share one extension array, stored once; 3 also starts a new template.
    for e in &mut events[2..] {
        e.extensions = traceparent.as_ptr();
        e.extensions_len = 1;
    }
    events[3].specversion = view(b"1.0");
    let chunk = read(&events).unwrap_or_else(|Refused(_, message)| panic!("{message}"));
    let stored: Vec<_> = chunk
        .refs(chunk.first_seq..chunk.end_seq())
        .map(|e| (e.id(), e.source(), e.ty(), e.subject(), e.data(), e.extensions().collect::<Vec<_>>()))
        .collect();
    let plain = |id| (id, "/test", "dev.evhost.test", "", &b"data"[..], vec![]);
    assert_eq!(
        stored,
        [
            plain("1"),
            ("é2", "/test", "dev.evhost.test", "only-this-one", &b"data"[..], vec![]),
            ("3", "/test", "dev.evhost.test", "", &b"data"[..], vec![("traceparent", "00-1")]),
            ("4", "/test", "dev.evhost.test", "", &b"data"[..], vec![("traceparent", "00-1")]),
        ]
    );
    let extensions: Vec<_> = chunk.refs(chunk.first_seq..chunk.end_seq()).map(|e| e.raw.extensions).collect();
    assert_eq!(extensions[2], extensions[3], "one stored copy of the shared extension array");
}

#[test]
fn every_bad_event_is_refused_with_what_to_fix() {
    let bad_attr = [evh_attr { key: view(b"Trace-Parent"), value: view(b"x") }];
    let bad_value = [evh_attr { key: view(b"trace"), value: view(b"\xff") }];
    let messages = [
        refusal(|e| e.id = view(b"\xc3\x28")),
        refusal(|e| e.id = evh_str { ptr: std::ptr::null(), len: 3 }),
        refusal(|e| e.id = evh_str::EMPTY),
        refusal(|e| e.source = evh_str::EMPTY),
        refusal(|e| e.r#type = view(b"t\xe2\x82")),
        refusal(|e| e.specversion = view(b"0.3")),
        refusal(|e| e.time = view(b"2026-02-29T10:00:00Z")),
        refusal(|e| e.data = evh::evh_bytes { ptr: std::ptr::null(), len: 8 }),
        refusal(|e| e.data = evh::evh_bytes::from_slice(&[0; 2048])),
        refusal(|e| e.extensions_len = 2),
        refusal(|e| (e.extensions, e.extensions_len) = (bad_attr.as_ptr(), 1)),
        refusal(|e| (e.extensions, e.extensions_len) = (bad_value.as_ptr(), 1)),
    ];
    insta::assert_snapshot!(messages.join("\n"));
}

#[test]
fn a_batch_without_events_or_with_the_wrong_struct_size_is_refused() {
    // SAFETY: NULL with n > 0 is what is being tested; read_batch must not read it.
    let null = unsafe { read_batch(std::ptr::null(), 3, 1024) };
    assert!(
        matches!(null, Err(Refused(evh::EVH_ERR_INVALID_ARGUMENT, ref m)) if m == "emit was given NULL events and n = 3")
    );
    let mut small = event(b"1");
    small.struct_size = 8;
    let Err(Refused(_, message)) = read(&[small]) else { panic!("taken") };
    assert_eq!(message, "events[0].struct_size is 8; set it to sizeof(evh_event) (176 in ABI 1.0)");
}

#[test]
fn time_must_be_rfc_3339() {
    for good in [
        "2026-11-27T21:17:42Z",
        "2026-11-27T21:17:42.123456789Z",
        "2024-02-29T23:59:59+14:00",
        "1999-12-31T00:00:00.5-08:30",
    ] {
        assert!(is_rfc3339(good.as_bytes()), "{good} was refused");
    }
    for bad in [
        "",
        "2026-11-27",
        "2026-11-27T21:17:42",
        "2026-13-01T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-11-27T24:00:00Z",
        "2026-11-27T21:17:42.Z",
        "2026-11-27T21:17:42+1:00",
        "2026-11-27T21:17:42+01:60",
        "2026-11-27T21:17:42Z ",
        "２026-11-27T21:17:42Z",
        "Fri, 27 Nov 2026 21:17:42 GMT",
        // RFC 3339 allows these, but common parsers (Go's) refuse them.
        "2026-11-27 21:17:42Z",
        "2026-11-27t21:17:42Z",
        "2026-11-27T21:17:42z",
        "2026-12-31T23:59:60Z",
        "2026-11-27T21:17:42\u{2212}01:00",
    ] {
        assert!(!is_rfc3339(bad.as_bytes()), "{bad} was taken");
    }
}
