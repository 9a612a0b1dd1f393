//! What can go wrong talking to PostgreSQL, each with what to do about it.

use std::io;

use tokio_postgres::error::SqlState;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    #[error("cannot reach PostgreSQL at {server}: {why}; is the server running and is `url` right? (`make services` starts one at the default url)")]
    Unreachable { server: String, why: String },
    #[error("PostgreSQL at {server} refused the login: {why}; fix the user or password in `url`")]
    Login { server: String, why: String },
    #[error(
        "PostgreSQL at {server} has no database `{database}`; create it (CREATE DATABASE {database}) or fix `url`"
    )]
    NoDatabase { server: String, database: String },
    #[error("PostgreSQL at {server} has wal_level = {level}; logical replication needs wal_level = logical in postgresql.conf, and a restart of the server")]
    WalLevel { server: String, level: String },
    #[error("the publication `{publication}` does not exist; create it (CREATE PUBLICATION {publication} FOR TABLE ...), or list the tables in `tables` and the plugin creates it")]
    NoPublication { publication: String },
    #[error("`tables` names {table:?}, which does not exist in database `{database}`; create it or fix the name (\"name\" or \"schema.name\")")]
    NoTable { table: String, database: String },
    #[error("the replication slot `{slot}` is in use by another connection (PID {pid}): another evhost host or replication client streams from it; give this instance its own `slot`, or stop the other one")]
    SlotInUse { slot: String, pid: i32 },
    #[error("the replication slot `{slot}` exists but is not a logical pgoutput slot of database `{database}` (it is {what}); choose another `slot`, or drop it: SELECT pg_drop_replication_slot('{slot}')")]
    SlotNotOurs { slot: String, database: String, what: String },
    #[error("the user `{user}` may not stream changes: it needs the REPLICATION attribute (ALTER ROLE {user} REPLICATION) or to be a superuser")]
    NoReplicationRole { user: String },
    #[error("PostgreSQL at {server}: {why}")]
    Query { server: String, why: String },
}

impl PgError {
    /// Sorts a driver error: no server, a refused login, a missing database, or a query's.
    pub fn from_driver(error: &tokio_postgres::Error, server: &str, database: &str) -> Self {
        let server = server.to_owned();
        if let Some(db) = error.as_db_error() {
            let why = db.message().to_owned();
            return match *db.code() {
                SqlState::INVALID_PASSWORD | SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
                    PgError::Login { server, why }
                }
                SqlState::INVALID_CATALOG_NAME => PgError::NoDatabase { server, database: database.to_owned() },
                _ => PgError::Query { server, why },
            };
        }
        let io = std::error::Error::source(error).and_then(|s| s.downcast_ref::<io::Error>());
        match io {
            Some(io) => PgError::Unreachable { server, why: io.to_string() },
            None if error.to_string().contains("timed out") || error.is_closed() => {
                PgError::Unreachable { server, why: error.to_string() }
            }
            None => PgError::Query { server, why: error.to_string() },
        }
    }
}
