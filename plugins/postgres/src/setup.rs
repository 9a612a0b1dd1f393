//! Plain SQL around the stream: connecting, the checks `create` (and so `evhost check`)
//! makes, and creating the publication and the slot before the stream starts.

use pgwire_replication::Lsn;
use tokio_postgres::{Client, NoTls};

use crate::config::{Mode, Settings};
use crate::error::PgError;

/// Connects; the connection runs on a task of the current runtime until the client drops.
pub async fn connect(settings: &Settings) -> Result<Client, PgError> {
    let (client, connection) = settings
        .pg
        .connect(NoTls)
        .await
        .map_err(|e| PgError::from_driver(&e, &settings.server(), &settings.database))?;
    tokio::spawn(connection);
    Ok(client)
}

fn query_error(settings: &Settings) -> impl Fn(tokio_postgres::Error) -> PgError + '_ {
    move |e| PgError::from_driver(&e, &settings.server(), &settings.database)
}

/// What `create` checks, changing nothing: the server answers, the login works, and in
/// replication mode the server, the user, the publication (or its tables) and the slot fit.
pub async fn verify(settings: &Settings) -> Result<(), PgError> {
    let client = connect(settings).await?;
    let Mode::Replication { slot, publication, tables } = &settings.mode else {
        return Ok(());
    };
    let err = query_error(settings);
    let level: String = client.query_one("SHOW wal_level", &[]).await.map_err(&err)?.get(0);
    if level != "logical" {
        return Err(PgError::WalLevel { server: settings.server(), level });
    }
    let role = client
        .query_one("SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user", &[])
        .await
        .map_err(&err)?;
    if !role.get::<_, bool>(0) {
        return Err(PgError::NoReplicationRole { user: settings.user.clone() });
    }
    let exists = client
        .query_opt("SELECT 1 FROM pg_publication WHERE pubname = $1", &[publication])
        .await
        .map_err(&err)?
        .is_some();
    if !exists {
        if tables.is_empty() {
            return Err(PgError::NoPublication { publication: publication.clone() });
        }
        for table in tables {
            let found =
                client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&quoted(table)]).await.map_err(&err)?;
            if !found.get::<_, bool>(0) {
                return Err(PgError::NoTable { table: table.clone(), database: settings.database.clone() });
            }
        }
    }
    let row = client
        .query_opt(
            "SELECT active_pid, plugin, database, slot_type FROM pg_replication_slots WHERE slot_name = $1",
            &[slot],
        )
        .await
        .map_err(&err)?;
    if let Some(row) = row {
        let (pid, plugin, database, kind): (Option<i32>, Option<String>, Option<String>, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        if plugin.as_deref() != Some("pgoutput") || database.as_deref() != Some(settings.database.as_str()) {
            let what = format!(
                "a {kind} slot with plugin {} in database {}",
                plugin.as_deref().unwrap_or("none"),
                database.as_deref().unwrap_or("none")
            );
            return Err(PgError::SlotNotOurs { slot: slot.clone(), database: settings.database.clone(), what });
        }
        if let Some(pid) = pid {
            return Err(PgError::SlotInUse { slot: slot.clone(), pid });
        }
    }
    Ok(())
}

/// Creates what is missing, the publication first (a slot decodes only what a publication
/// it knows of covers), and answers the slot's confirmed position: where the stream
/// resumes, and what has been acknowledged already.
pub async fn prepare(settings: &Settings, client: &Client) -> Result<Lsn, PgError> {
    let Mode::Replication { slot, publication, tables } = &settings.mode else {
        return Ok(Lsn(0));
    };
    let err = query_error(settings);
    let exists =
        client.query_opt("SELECT 1 FROM pg_publication WHERE pubname = $1", &[publication]).await.map_err(&err)?;
    if exists.is_none() {
        if tables.is_empty() {
            return Err(PgError::NoPublication { publication: publication.clone() });
        }
        let list: Vec<String> = tables.iter().map(|t| quoted(t)).collect();
        let sql = format!("CREATE PUBLICATION {publication} FOR TABLE {}", list.join(", "));
        client.batch_execute(&sql).await.map_err(&err)?;
    }
    let row = client
        .query_opt("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", &[slot])
        .await
        .map_err(&err)?;
    let confirmed: Option<String> = match row {
        Some(row) => row.get(0),
        None => {
            let row = client
                .query_one("SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')", &[slot])
                .await
                .map_err(&err)?;
            row.get(0)
        }
    };
    Ok(confirmed.and_then(|text| Lsn::parse(&text).ok()).unwrap_or(Lsn(0)))
}

/// A table name as an SQL identifier: `orders` → `"orders"`, `shop.orders` → `"shop"."orders"`.
pub fn quoted(table: &str) -> String {
    table.split('.').map(|part| format!("\"{}\"", part.replace('"', "\"\""))).collect::<Vec<_>>().join(".")
}
