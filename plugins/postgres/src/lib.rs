//! `postgres`: a producer of database events. In `replication` mode (the default) it streams
//! the row changes of a publication through a logical replication slot (pgoutput); in
//! `listen` mode it turns `NOTIFY`s on some channels into events.
//!
//! # Events (replication mode)
//!
//! One event per row change, and one per table a `TRUNCATE` empties:
//!
//! | attribute | value |
//! | --- | --- |
//! | `type` | `dev.evhost.postgres.insert`, `.update`, `.delete` or `.truncate` |
//! | `source` | `/postgres/<database>/<schema>/<table>` |
//! | `subject` | the primary key (the replica identity): its value as text, or a JSON array of the values of a key of several columns; none for a table without one, and for a truncate |
//! | `id` | `<commit LSN>/<index of the change in its transaction>`, e.g. `0/1A2B3C8/0`: the same change always has the same id |
//! | `time` | the transaction's commit time |
//! | `datacontenttype` | `application/json` |
//! | `data` | `{"before": …, "after": …, "table": "<schema>.<table>", "lsn": "<the change's LSN>", "xid": <transaction id>}` |
//!
//! `before` is the old row of an update or delete: its key columns only, unless the table
//! has `REPLICA IDENTITY FULL` (then the whole row; an update that does not change the key
//! has no `before` at all, `null`). `after` is the new row of an insert or update. Values are
//! typed as JSON where they map: integers and floats as numbers, `numeric` as a number when
//! no digit is lost (else text), booleans, `json`/`jsonb` inline; everything else (dates,
//! `bytea` as `\x…`, arrays, NaN) is PostgreSQL's text. A large value the update did not
//! change (TOAST) is not sent by PostgreSQL and is left out of `after`.
//!
//! A transaction's changes are emitted in one atomic emit, in commit order. A transaction
//! of more than `batch` changes is emitted in several atomic emits of `batch` events, in
//! order, so that it always fits the log; its slot position is still confirmed only after
//! the last one is committed, so a crash between them sends the whole transaction again.
//!
//! # Delivery
//!
//! The slot's confirmed position advances only once the events before it are committed
//! (the disk log: fsynced), so a crash of the host or of PostgreSQL loses nothing: the next
//! start resumes at the confirmed position, and a change may come twice (same id) but is
//! never skipped. When no watched table changes, the server's keepalives are confirmed
//! every `heartbeat`, so the slot follows the server and its WAL can be recycled. A lost
//! connection (a restart of PostgreSQL) is retried with a backoff from 100 ms to 5 s.
//!
//! # Listen mode
//!
//! `LISTEN` on `channels`; each `NOTIFY` becomes an event of type
//! `dev.evhost.postgres.notification`, source `/postgres/<database>`, subject the channel,
//! data the payload (`text/plain`), extension `pgpid` the notifying backend's PID. Not
//! durable: PostgreSQL keeps no notification for a listener that is not connected, so
//! what is sent while the host or the connection is down is lost; payloads are at most
//! 8000 bytes (PostgreSQL's limit).
//!
//! # Config
//!
//! | key | default | meaning |
//! | --- | --- | --- |
//! | `url` | `"postgres://evhost:evhost@127.0.0.1:5432/evhost"` | the server, `postgres://user:password@host:port/database` (`make services` starts one there); plain TCP, no TLS |
//! | `mode` | `"replication"` | or `"listen"` |
//! | `slot` | `"evhost"` | replication: the logical replication slot, created when missing; one per host |
//! | `publication` | `"evhost"` | replication: the publication whose tables are streamed |
//! | `tables` | none | replication: when the publication is missing, create it for these tables (`"orders"`, `"shop.orders"`) |
//! | `channels` | none | listen: the channels to `LISTEN` on (required in listen mode) |
//! | `batch` | `16384` | the largest emit, in events: a larger transaction is split (above); keep it below the log's capacity |
//! | `heartbeat` | `"10s"` | how often the confirmed position is reported to the server (standby status updates) |
//! | `connect_timeout` | `"5s"` | for each connection attempt |
//!
//! `create` (so `evhost check`) connects and checks, changing nothing: the server is
//! reachable, the login works, `wal_level` is `logical`, the user may replicate, the
//! publication exists (or `tables` do), and the slot is a pgoutput slot of this database
//! that no one else streams from. `run` creates the publication and the slot.
#![forbid(unsafe_code)]

mod config;
mod error;
mod events;
mod listen;
mod pgoutput;
mod replicate;
mod setup;
mod values;

use evhost_sdk::{Context, Emitter, Error, Producer};
use tokio::sync::watch;

pub use config::Config;
use config::{Mode, Settings};

pub struct Postgres {
    ctx: Context,
    settings: Settings,
    stop: watch::Sender<bool>,
}

impl Producer for Postgres {
    const NAME: &'static str = "postgres";
    const DESCRIPTION: &'static str = "PostgreSQL row changes (logical replication) or NOTIFYs, as events";
    type Config = Config;

    fn create(ctx: Context, config: Config) -> Result<Self, Error> {
        let settings = config.check()?;
        runtime()?.block_on(setup::verify(&settings)).map_err(|e| Error::config(e.to_string()))?;
        Ok(Postgres { ctx, settings, stop: watch::Sender::new(false) })
    }

    fn run(&self, emitter: &mut Emitter) -> Result<(), Error> {
        let stop = self.stop.subscribe();
        let runtime = runtime()?;
        match self.settings.mode {
            Mode::Replication { .. } => {
                runtime.block_on(replicate::run(&self.settings, emitter, &self.ctx, stop)).map_err(Error::new)
            }
            Mode::Listen { .. } => {
                runtime.block_on(listen::run(&self.settings, emitter, &self.ctx, stop));
                Ok(())
            }
        }
    }

    fn stop(&self) {
        self.stop.send_replace(true);
    }
}

/// `run` blocks its own thread in `emit` when the log is full; the connections' tasks run
/// on the one worker thread meanwhile, so the server's keepalives are still answered.
fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("evh-postgres")
        .enable_all()
        .build()
        .map_err(|e| Error::new(format!("cannot start the tokio runtime: {e}")))
}

evhost_sdk::export_plugins!(producer Postgres);
