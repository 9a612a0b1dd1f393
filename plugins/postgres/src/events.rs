//! Row changes as CloudEvents: one event per row (and per truncated table), identified by
//! the transaction's commit position and the change's index in it.

use evhost_sdk::OutEvent;
use pgwire_replication::Lsn;
use serde_json::{json, Value as Json};

use crate::pgoutput::{Change, OldKind, Relation, Relations};
use crate::values;

/// The transaction a change belongs to, from its Begin message.
pub struct Transaction {
    pub xid: u32,
    /// The commit record's position: with the index, the event ids.
    pub commit_lsn: Lsn,
    /// RFC 3339.
    pub time: String,
    pub database: String,
    /// Changes seen so far: the next change's index.
    pub index: u64,
}

/// Microseconds since 2000-01-01 (PostgreSQL's epoch) as RFC 3339 UTC.
pub fn pg_time(micros: i64) -> String {
    const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;
    let unix = micros.saturating_add(PG_EPOCH_UNIX_MICROS);
    chrono::DateTime::from_timestamp_micros(unix)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Why a change cannot become an event.
#[derive(Debug, thiserror::Error)]
#[error("a change names relation {0}, which no Relation message described")]
pub struct UnknownRelation(u32);

/// The events for one change (several for a truncate of several tables).
pub fn events(
    tx: &mut Transaction,
    relations: &Relations,
    change: Change,
    lsn: Lsn,
) -> Result<Vec<OutEvent<'static>>, UnknownRelation> {
    let relation = |oid: u32| relations.get(&oid).ok_or(UnknownRelation(oid));
    let out = match change {
        Change::Insert { relation: oid, new } => {
            let rel = relation(oid)?;
            let subject = values::key(&rel.columns, &new);
            vec![event(tx, rel, "insert", subject, Json::Null, values::row(&rel.columns, &new, false), lsn)]
        }
        Change::Update { relation: oid, old, new } => {
            let rel = relation(oid)?;
            let subject = values::key(&rel.columns, &new);
            let before = old_row(rel, old.as_ref());
            vec![event(tx, rel, "update", subject, before, values::row(&rel.columns, &new, false), lsn)]
        }
        Change::Delete { relation: oid, old } => {
            let rel = relation(oid)?;
            let subject = values::key(&rel.columns, &old.1);
            vec![event(tx, rel, "delete", subject, old_row(rel, Some(&old)), Json::Null, lsn)]
        }
        Change::Truncate { relations: oids } => {
            let mut out = Vec::with_capacity(oids.len());
            for oid in oids {
                out.push(event(tx, relation(oid)?, "truncate", None, Json::Null, Json::Null, lsn));
            }
            out
        }
    };
    Ok(out)
}

fn old_row(rel: &Relation, old: Option<&(OldKind, Vec<crate::pgoutput::Value>)>) -> Json {
    match old {
        Some((kind, values)) => values::row(&rel.columns, values, *kind == OldKind::Key),
        None => Json::Null,
    }
}

fn event(
    tx: &mut Transaction,
    rel: &Relation,
    what: &str,
    subject: Option<String>,
    before: Json,
    after: Json,
    lsn: Lsn,
) -> OutEvent<'static> {
    let data = json!({
        "before": before,
        "after": after,
        "table": format!("{}.{}", rel.schema, rel.name),
        "lsn": lsn.to_string(),
        "xid": tx.xid,
    });
    let id = format!("{}/{}", tx.commit_lsn, tx.index);
    tx.index += 1;
    OutEvent {
        id: id.into(),
        source: format!("/postgres/{}/{}/{}", tx.database, rel.schema, rel.name).into(),
        ty: format!("dev.evhost.postgres.{what}").into(),
        subject: subject.map(Into::into),
        datacontenttype: Some("application/json".into()),
        time: Some(tx.time.clone().into()),
        data: data.to_string().into_bytes().into(),
        ..OutEvent::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_times_are_rfc3339_utc() {
        assert_eq!(pg_time(0), "2000-01-01T00:00:00.000000Z");
        assert_eq!(pg_time(1_500_000), "2000-01-01T00:00:01.500000Z");
    }
}
