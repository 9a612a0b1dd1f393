//! Decodes the pgoutput messages (protocol version 1) that carry row changes: Relation,
//! Insert, Update, Delete and Truncate. Begin and Commit arrive already decoded from the
//! replication client; Origin, Type and logical Message are not row changes and are skipped.
//!
//! The layout is PostgreSQL's "Logical Replication Message Formats" chapter.

use std::collections::HashMap;

/// A malformed message: PostgreSQL sent something this decoder does not read.
#[derive(Debug, thiserror::Error)]
#[error("malformed pgoutput message `{tag}`: {why}")]
pub struct DecodeError {
    tag: char,
    why: &'static str,
}

/// A table as the last Relation message described it.
#[derive(Clone, Debug, PartialEq)]
pub struct Relation {
    pub schema: String,
    pub name: String,
    pub columns: Vec<Column>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    /// Part of the replica identity: the primary key, unless the table says otherwise.
    pub key: bool,
    pub type_oid: u32,
}

/// One column's value in a tuple.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    /// A TOASTed value the change did not touch: PostgreSQL does not send it again.
    Unchanged,
    Text(String),
}

/// Which old row an Update or Delete carries: the key columns only, or the whole row
/// (`REPLICA IDENTITY FULL`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OldKind {
    Key,
    Full,
}

#[derive(Debug, PartialEq)]
pub enum Change {
    Insert { relation: u32, new: Vec<Value> },
    Update { relation: u32, old: Option<(OldKind, Vec<Value>)>, new: Vec<Value> },
    Delete { relation: u32, old: (OldKind, Vec<Value>) },
    Truncate { relations: Vec<u32> },
}

/// What one message meant.
#[derive(Debug, PartialEq)]
pub enum Message {
    Relation(u32, Relation),
    Change(Change),
    /// Not a row change (Origin, Type, logical Message, Begin/Commit seen raw).
    Other,
}

/// The relations of one replication session: pgoutput sends each one before its first
/// change in the session, and again when it changes.
pub type Relations = HashMap<u32, Relation>;

pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    let Some((&tag, rest)) = bytes.split_first() else {
        return Err(DecodeError { tag: '?', why: "empty" });
    };
    let mut r = Reader { bytes: rest, tag: tag as char };
    let message = match tag {
        b'R' => {
            let oid = r.u32()?;
            let schema = r.cstr()?;
            let name = r.cstr()?;
            let _replica_identity = r.u8()?;
            let n = r.u16()?;
            let mut columns = Vec::with_capacity(usize::from(n));
            for _ in 0..n {
                let flags = r.u8()?;
                let name = r.cstr()?;
                let type_oid = r.u32()?;
                let _typmod = r.u32()?;
                columns.push(Column { name, key: flags & 1 == 1, type_oid });
            }
            // An empty namespace is pg_catalog, as the protocol says.
            let schema = if schema.is_empty() { "pg_catalog".to_owned() } else { schema };
            Message::Relation(oid, Relation { schema, name, columns })
        }
        b'I' => {
            let relation = r.u32()?;
            r.expect(b'N')?;
            Message::Change(Change::Insert { relation, new: r.tuple()? })
        }
        b'U' => {
            let relation = r.u32()?;
            let old = match r.u8()? {
                b'K' => Some((OldKind::Key, r.tuple()?)),
                b'O' => Some((OldKind::Full, r.tuple()?)),
                b'N' => None,
                _ => return Err(r.error("expected K, O or N")),
            };
            if old.is_some() {
                r.expect(b'N')?;
            }
            Message::Change(Change::Update { relation, old, new: r.tuple()? })
        }
        b'D' => {
            let relation = r.u32()?;
            let kind = match r.u8()? {
                b'K' => OldKind::Key,
                b'O' => OldKind::Full,
                _ => return Err(r.error("expected K or O")),
            };
            Message::Change(Change::Delete { relation, old: (kind, r.tuple()?) })
        }
        b'T' => {
            let n = r.u32()?;
            let _options = r.u8()?;
            let relations = (0..n).map(|_| r.u32()).collect::<Result<_, _>>()?;
            Message::Change(Change::Truncate { relations })
        }
        _ => Message::Other,
    };
    Ok(message)
}

struct Reader<'a> {
    bytes: &'a [u8],
    tag: char,
}

impl<'a> Reader<'a> {
    fn error(&self, why: &'static str) -> DecodeError {
        DecodeError { tag: self.tag, why }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < n {
            return Err(self.error("cut short"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn expect(&mut self, byte: u8) -> Result<(), DecodeError> {
        if self.u8()? == byte {
            Ok(())
        } else {
            Err(self.error("unexpected tuple marker"))
        }
    }

    fn cstr(&mut self) -> Result<String, DecodeError> {
        let end = self.bytes.iter().position(|&b| b == 0).ok_or_else(|| self.error("unterminated string"))?;
        let text = String::from_utf8_lossy(&self.bytes[..end]).into_owned();
        self.bytes = &self.bytes[end + 1..];
        Ok(text)
    }

    fn tuple(&mut self) -> Result<Vec<Value>, DecodeError> {
        let n = self.u16()?;
        let mut values = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            values.push(match self.u8()? {
                b'n' => Value::Null,
                b'u' => Value::Unchanged,
                b't' => {
                    let len = self.u32()? as usize;
                    Value::Text(String::from_utf8_lossy(self.take(len)?).into_owned())
                }
                // Binary values come only with the `binary` option, which we never ask for.
                _ => return Err(self.error("unknown column kind")),
            });
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Vec<u8> {
        let mut v = vec![b't'];
        v.extend((s.len() as u32).to_be_bytes());
        v.extend(s.as_bytes());
        v
    }

    #[test]
    fn reads_a_relation_and_an_update_with_its_key() {
        let mut rel = vec![b'R'];
        rel.extend(16384u32.to_be_bytes());
        rel.extend(b"\0items\0d");
        rel.extend(2u16.to_be_bytes());
        rel.extend(b"\x01id\0");
        rel.extend(23u32.to_be_bytes());
        rel.extend((-1i32).to_be_bytes());
        rel.extend(b"\x00name\0");
        rel.extend(25u32.to_be_bytes());
        rel.extend((-1i32).to_be_bytes());
        let Message::Relation(oid, relation) = decode(&rel).unwrap() else { panic!("not a relation") };
        assert_eq!(oid, 16384);
        assert_eq!(relation.schema, "pg_catalog");
        assert_eq!(relation.name, "items");
        assert_eq!(relation.columns[0], Column { name: "id".into(), key: true, type_oid: 23 });
        assert!(!relation.columns[1].key);

        let mut update = vec![b'U'];
        update.extend(16384u32.to_be_bytes());
        update.push(b'K');
        update.extend(2u16.to_be_bytes());
        update.extend(text("7"));
        update.push(b'n');
        update.push(b'N');
        update.extend(2u16.to_be_bytes());
        update.extend(text("8"));
        update.push(b'u');
        let change = decode(&update).unwrap();
        assert_eq!(
            change,
            Message::Change(Change::Update {
                relation: 16384,
                old: Some((OldKind::Key, vec![Value::Text("7".into()), Value::Null])),
                new: vec![Value::Text("8".into()), Value::Unchanged],
            })
        );
    }

    #[test]
    fn a_message_cut_short_is_an_error_not_a_panic() {
        let mut insert = vec![b'I'];
        insert.extend(1u32.to_be_bytes());
        insert.push(b'N');
        insert.extend(1u16.to_be_bytes());
        insert.push(b't');
        insert.extend(100u32.to_be_bytes());
        insert.extend(b"short");
        for end in 0..insert.len() {
            assert!(decode(&insert[..end]).is_err(), "{end} bytes");
        }
        assert_eq!(decode(b"Yxx").unwrap(), Message::Other);
    }
}
