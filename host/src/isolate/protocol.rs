//! What host and worker say to each other over their socket: length-prefixed frames, each
//! one message. A frame is a u32 length (little-endian, of what follows), a tag byte, and
//! the message's fields: integers little-endian, text and bytes as a u32 length and the
//! bytes. Both sides are the same binary, so the format needs no negotiation beyond the
//! first frame, [`Message::Hello`], which each side sends first and checks: a worker from
//! another build (an upgrade under a running host) is refused by name, not misread.

use std::io::{self, Read, Write};

/// Bumped whenever a message changes.
pub const PROTOCOL: u32 = 3;

/// The largest frame either side accepts: a batch of events is bounded by the log's own
/// limits, far below this; anything bigger is a broken peer.
const MAX_FRAME: usize = 1 << 30;

/// One message. `H→W` goes from host to worker, `W→H` back.
#[derive(Debug, PartialEq, Eq)]
pub enum Message {
    /// Both ways, first: the protocol and the evhost version.
    Hello {
        protocol: u32,
        version: String,
    },
    /// H→W: load the library and create the instance.
    Create(Create),
    /// W→H: the instance exists; what the plugin is.
    Created {
        plugin: String,
        on_run: bool,
        on_committed: bool,
    },
    /// W→H: the library did not load, or the plugin is not there, or `on_create` failed.
    /// `status` is the hook's (0 when it never ran), `plugin` the one that refused (empty
    /// when none was found); `config_key` as in `HookError`, or, when the hook never ran,
    /// the entry's key at fault (`selection::Key`: `library`, `plugin`, `name`).
    Refused {
        status: i32,
        plugin: String,
        message: String,
        help: String,
        config_key: String,
    },
    /// H→W: consumer, call `on_events` with these events (see `events`).
    Events {
        first_seq: u64,
        events: Vec<u8>,
    },
    /// W→H: what `on_events` answered, with the message it set, if any.
    Delivered {
        status: i32,
        handled: u64,
        error: String,
    },
    /// H→W: producer, call `on_run` / `on_start`; any instance, `on_stop`.
    Run,
    Start,
    Stop,
    /// W→H: the hook asked for returned.
    Done {
        status: i32,
        error: String,
    },
    /// W→H: a producer emitted these checked events (see `events`) with these flags.
    Emit {
        flags: u32,
        events: Vec<u8>,
    },
    /// H→W: the answer to `Emit`: the status, the batch's ticket, the message on failure.
    Emitted {
        status: i32,
        ticket: u64,
        error: String,
    },
    /// W→H: `wait_committed` (ABI 1.1); answered with `Emitted` (ticket: the watermark).
    WaitCommitted {
        ticket: u64,
        timeout_ms: u64,
    },
    /// H→W: producer, call `on_committed` with this watermark (not answered).
    Committed {
        seq: u64,
    },
    /// W→H: `on_run` returned.
    Ran {
        status: i32,
        error: String,
    },
}

/// What a worker needs to create its instance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Create {
    pub library: String,
    pub plugin: String,
    pub consumer: bool,
    pub name: String,
    pub config_json: String,
    pub config_dir: String,
    pub max_event_bytes: u64,
    /// The host log's capacity and max_bytes (a producer's `claim` refuses beyond them).
    pub log_capacity: u64,
    pub log_max_bytes: u64,
}

/// Writes `message` as one frame. `buffer` is scratch space, kept to spare an allocation
/// per batch.
pub fn send(to: &mut impl Write, message: &Message, buffer: &mut Vec<u8>) -> io::Result<()> {
    buffer.clear();
    buffer.extend_from_slice(&[0; 4]);
    encode(message, buffer);
    let len = u32::try_from(buffer.len() - 4).map_err(|_| io::Error::other("a frame of 4 GiB or more"))?;
    buffer[..4].copy_from_slice(&len.to_le_bytes());
    to.write_all(buffer)
}

/// Writes an `Events` frame whose events `write` appends straight into the frame (see
/// `events::encode`): the batch is copied once, into the frame.
pub fn send_events(
    to: &mut impl Write,
    first_seq: u64,
    write: impl FnOnce(&mut Vec<u8>),
    buffer: &mut Vec<u8>,
) -> io::Result<()> {
    buffer.clear();
    buffer.extend_from_slice(&[0; 4]);
    buffer.push(EVENTS);
    put_u64(buffer, first_seq);
    write(buffer);
    let len = u32::try_from(buffer.len() - 4).map_err(|_| io::Error::other("a frame of 4 GiB or more"))?;
    buffer[..4].copy_from_slice(&len.to_le_bytes());
    to.write_all(buffer)
}

/// The tag of `Message::Events`.
const EVENTS: u8 = 5;

/// Reads one frame; `UnexpectedEof` when the peer closed its end.
pub fn receive(from: &mut impl Read, buffer: &mut Vec<u8>) -> io::Result<Message> {
    let mut len = [0u8; 4];
    from.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len) as usize;
    if len == 0 || len > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("a frame of {len} bytes")));
    }
    buffer.clear();
    buffer.resize(len, 0);
    from.read_exact(buffer)?;
    decode(buffer).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "a malformed frame"))
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put_bytes(out: &mut Vec<u8>, v: &[u8]) {
    put_u32(out, v.len() as u32);
    out.extend_from_slice(v);
}

fn encode(message: &Message, out: &mut Vec<u8>) {
    match message {
        Message::Hello { protocol, version } => {
            out.push(1);
            put_u32(out, *protocol);
            put_bytes(out, version.as_bytes());
        }
        Message::Create(c) => {
            out.push(2);
            for text in [&c.library, &c.plugin, &c.name, &c.config_json, &c.config_dir] {
                put_bytes(out, text.as_bytes());
            }
            out.push(u8::from(c.consumer));
            put_u64(out, c.max_event_bytes);
            put_u64(out, c.log_capacity);
            put_u64(out, c.log_max_bytes);
        }
        Message::Created { plugin, on_run, on_committed } => {
            out.push(3);
            put_bytes(out, plugin.as_bytes());
            out.push(u8::from(*on_run));
            out.push(u8::from(*on_committed));
        }
        Message::Refused { status, plugin, message, help, config_key } => {
            out.push(4);
            put_u32(out, *status as u32);
            for text in [plugin, message, help, config_key] {
                put_bytes(out, text.as_bytes());
            }
        }
        Message::Events { first_seq, events } => {
            out.push(EVENTS);
            put_u64(out, *first_seq);
            out.extend_from_slice(events);
        }
        Message::Delivered { status, handled, error } => {
            out.push(6);
            put_u32(out, *status as u32);
            put_u64(out, *handled);
            put_bytes(out, error.as_bytes());
        }
        Message::Run => out.push(7),
        Message::Start => out.push(8),
        Message::Stop => out.push(9),
        Message::Done { status, error } => {
            out.push(10);
            put_u32(out, *status as u32);
            put_bytes(out, error.as_bytes());
        }
        Message::Emit { flags, events } => {
            out.push(11);
            put_u32(out, *flags);
            out.extend_from_slice(events);
        }
        Message::Emitted { status, ticket, error } => {
            out.push(12);
            put_u32(out, *status as u32);
            put_u64(out, *ticket);
            put_bytes(out, error.as_bytes());
        }
        Message::WaitCommitted { ticket, timeout_ms } => {
            out.push(13);
            put_u64(out, *ticket);
            put_u64(out, *timeout_ms);
        }
        Message::Committed { seq } => {
            out.push(15);
            put_u64(out, *seq);
        }
        Message::Ran { status, error } => {
            out.push(14);
            put_u32(out, *status as u32);
            put_bytes(out, error.as_bytes());
        }
    }
}

/// Fields still to read.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn text(&mut self) -> Option<String> {
        let len = self.u32()? as usize;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }
    fn rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.0).to_vec()
    }
}

fn decode(frame: &[u8]) -> Option<Message> {
    let mut f = Fields(frame);
    let message = match f.u8()? {
        1 => Message::Hello { protocol: f.u32()?, version: f.text()? },
        2 => {
            let (library, plugin, name, config_json, config_dir) =
                (f.text()?, f.text()?, f.text()?, f.text()?, f.text()?);
            let consumer = f.u8()? != 0;
            Message::Create(Create {
                library,
                plugin,
                consumer,
                name,
                config_json,
                config_dir,
                max_event_bytes: f.u64()?,
                log_capacity: f.u64()?,
                log_max_bytes: f.u64()?,
            })
        }
        3 => Message::Created { plugin: f.text()?, on_run: f.u8()? != 0, on_committed: f.u8()? != 0 },
        4 => Message::Refused {
            status: f.u32()? as i32,
            plugin: f.text()?,
            message: f.text()?,
            help: f.text()?,
            config_key: f.text()?,
        },
        EVENTS => Message::Events { first_seq: f.u64()?, events: f.rest() },
        6 => Message::Delivered { status: f.u32()? as i32, handled: f.u64()?, error: f.text()? },
        7 => Message::Run,
        8 => Message::Start,
        9 => Message::Stop,
        10 => Message::Done { status: f.u32()? as i32, error: f.text()? },
        11 => Message::Emit { flags: f.u32()?, events: f.rest() },
        12 => Message::Emitted { status: f.u32()? as i32, ticket: f.u64()?, error: f.text()? },
        13 => Message::WaitCommitted { ticket: f.u64()?, timeout_ms: f.u64()? },
        15 => Message::Committed { seq: f.u64()? },
        14 => Message::Ran { status: f.u32()? as i32, error: f.text()? },
        _ => return None,
    };
    f.0.is_empty().then_some(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_reads_back_as_it_was_written() {
        let messages = [
            Message::Hello { protocol: PROTOCOL, version: "0.1.0".into() },
            Message::Create(Create {
                library: "/p/libx.so".into(),
                plugin: "digest".into(),
                consumer: true,
                name: "d".into(),
                config_json: "{}".into(),
                config_dir: "/p".into(),
                max_event_bytes: 1 << 20,
                log_capacity: 65_536,
                log_max_bytes: 64 << 20,
            }),
            Message::Created { plugin: "digest".into(), on_run: true, on_committed: false },
            Message::Committed { seq: 99 },
            Message::Refused {
                status: -3,
                plugin: "p".into(),
                message: "m".into(),
                help: "h".into(),
                config_key: "k".into(),
            },
            Message::Events { first_seq: 7, events: vec![1, 2, 3] },
            Message::Delivered { status: 1, handled: 9, error: "e".into() },
            Message::Run,
            Message::Start,
            Message::Stop,
            Message::Done { status: 0, error: String::new() },
            Message::Emit { flags: 2, events: vec![4] },
            Message::Emitted { status: 0, ticket: 42, error: String::new() },
            Message::WaitCommitted { ticket: 5, timeout_ms: u64::MAX },
            Message::Ran { status: -1, error: "x".into() },
        ];
        let mut wire = Vec::new();
        let mut scratch = Vec::new();
        for message in &messages {
            send(&mut wire, message, &mut scratch).unwrap();
        }
        let mut reader = &wire[..];
        for message in messages {
            assert_eq!(receive(&mut reader, &mut scratch).unwrap(), message);
        }
        assert_eq!(receive(&mut reader, &mut scratch).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn a_cut_or_unknown_frame_is_refused() {
        assert!(decode(&[99]).is_none());
        assert!(decode(&[6, 1, 0]).is_none());
        assert!(decode(&[7, 0]).is_none(), "trailing bytes");
    }
}
