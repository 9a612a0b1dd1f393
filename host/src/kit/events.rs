//! The events the kit delivers to consumers, in each shape the ABI allows. They are built
//! straight into a chunk of the host's own log and read back through a consumer cursor, so a
//! consumer gets exactly what the host would hand it.

use crate::config::{LogConfig, Policy, Start};
use crate::log::{empty_event, set_strings, Batch, ChunkBuilder, Log, Read};

/// Which attributes and data the events carry.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// Required attributes, JSON data.
    Plain,
    /// Only the required attributes: no subject, datacontenttype, dataschema, time or data.
    Absent,
    /// Every optional attribute and three extensions.
    Present,
    /// Multi-byte UTF-8 everywhere it may be.
    Utf8,
    /// A datacontenttype, but no data bytes.
    EmptyData,
    /// 1 MiB of every byte value.
    OneMib,
}

/// The eight string attributes but the id, in `strings`' order (id first, left empty).
fn attributes(shape: Shape) -> [&'static str; 8] {
    let [source, spec, ty] = ["/evhost/test-plugin", "1.0", "dev.evhost.test-plugin"];
    match shape {
        Shape::Plain => ["", source, spec, ty, "", "application/json", "", ""],
        Shape::Absent => ["", source, spec, ty, "", "", "", ""],
        Shape::Present => [
            "",
            source,
            spec,
            ty,
            "orders/42",
            "application/json",
            "https://example.com/schemas/test.json",
            "2026-11-30T08:00:00.123456Z",
        ],
        Shape::Utf8 => [
            "",
            "/évènements/東京",
            spec,
            "dev.evhost.test-plugin.ünïcode",
            "crab 🦀 Ωμέγα",
            "text/plain; charset=utf-8",
            "",
            "2026-11-30T09:00:00+01:00",
        ],
        Shape::EmptyData => ["", source, spec, ty, "", "application/octet-stream", "", ""],
        Shape::OneMib => ["", source, spec, ty, "", "application/octet-stream", "", ""],
    }
}

fn data(shape: Shape, i: usize) -> Vec<u8> {
    match shape {
        Shape::Plain | Shape::Present => format!("{{\"n\":{i}}}").into_bytes(),
        Shape::Absent | Shape::EmptyData => Vec::new(),
        Shape::Utf8 => format!("héllo 世界 🦀 #{i}").into_bytes(),
        Shape::OneMib => (0..1 << 20).map(|b| b as u8).collect(),
    }
}

fn extensions(shape: Shape) -> &'static [(&'static str, &'static str)] {
    match shape {
        Shape::Present => &[
            ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            ("tenant", "acme"),
            ("attempt", "1"),
        ],
        Shape::Utf8 => &[("region", "zürich-東京")],
        _ => &[],
    }
}

/// `n` events of `shape` in a log of their own, read back as one batch.
pub struct Fed {
    pub batch: Batch,
    /// Keeps the cursor's log alive while the batch is delivered.
    _log: Log,
}

pub fn feed(shape: Shape, n: usize) -> Fed {
    let log = Log::new(&LogConfig::memory(n.max(1), 1 << 30));
    let cursor = log.join("test-plugin", Policy::Block, Start::End);
    let mut builder = ChunkBuilder::with_capacity(n, n * 16, n * 64);
    let mut template = empty_event();
    set_strings(&mut template, attributes(shape).map(|a| builder.put(a.as_bytes())));
    builder.template(&template);
    for i in 0..n {
        let id = match shape {
            Shape::Utf8 => format!("ünï-{i}"),
            _ => format!("test-plugin-{i}"),
        };
        builder.push(id.as_bytes(), &data(shape, i));
        for (key, value) in extensions(shape) {
            let (key, value) = (builder.put(key.as_bytes()), builder.put(value.as_bytes()));
            builder.push_extension(key, value);
        }
    }
    log.append(builder, false).expect("the kit's log holds its batch");
    let mut batch = Batch::default();
    let read = log.try_read(cursor, n, &mut batch);
    assert_eq!(read, Read::Events { dropped: 0 }, "the kit reads back what it appended");
    Fed { batch, _log: log }
}
