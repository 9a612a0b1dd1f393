//! Replication mode: streams the slot, emits each transaction's changes in commit order,
//! and confirms a position to the slot only once the events before it are committed.
//!
//! Positions: `emitted` is the end of the last transaction handed to the host (a new
//! session of this process starts there, so nothing is emitted twice while it runs);
//! `acked` is what the slot has confirmed. A transaction is acknowledged by its commit's
//! end once its last ticket is committed; a keepalive's position (everything decoded so far,
//! changes to unwatched tables included) outside a transaction is acknowledged once every
//! ticket before it is: that is the heartbeat that lets the server recycle its WAL.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use evhost_sdk::{Context, EmitError, Emitter, OutEvent, Ticket};
use pgwire_replication::{Lsn, ReplicationClient, ReplicationConfig, ReplicationEvent, TlsConfig};
use tokio::sync::watch;

use crate::config::{Mode, Settings};
use crate::events::{self, Transaction};
use crate::pgoutput::{self, Message, Relations};
use crate::setup;

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
enum End {
    #[error("the host stopped")]
    Stopped,
    /// Worth another session after a pause: the server or the network went away.
    #[error("{0}")]
    Lost(String),
    /// No other session would do better.
    #[error("{0}")]
    Fatal(String),
}

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A session that lasted this long was healthy: the next reconnect starts from FIRST_BACKOFF.
const HEALTHY: Duration = Duration::from_secs(10);

/// Streams until the host stops (`Ok`) or a change cannot be emitted at all (`Err`).
pub async fn run(
    settings: &Settings,
    emitter: &mut Emitter,
    ctx: &Context,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let mut positions = Positions { emitted: Lsn(0), acked: Lsn(0) };
    let mut backoff = FIRST_BACKOFF;
    loop {
        let began = Instant::now();
        let end = tokio::select! {
            end = session(settings, emitter, ctx, &mut positions) => end,
            _ = stop.wait_for(|stop| *stop) => End::Stopped,
        };
        match end {
            End::Stopped => return Ok(()),
            End::Fatal(why) => return Err(why),
            End::Lost(why) => {
                if began.elapsed() >= HEALTHY {
                    backoff = FIRST_BACKOFF;
                }
                ctx.warn(format!(
                    "replication stream from {} lost: {why}; reconnecting in {backoff:?}",
                    settings.server()
                ));
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.wait_for(|stop| *stop) => return Ok(()),
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

struct Positions {
    emitted: Lsn,
    acked: Lsn,
}

/// One connection's stream, from the slot's confirmed position (or where this process got
/// to, if further) until it breaks.
async fn session(settings: &Settings, emitter: &mut Emitter, ctx: &Context, positions: &mut Positions) -> End {
    let Mode::Replication { slot, publication, .. } = &settings.mode else {
        return End::Fatal("not in replication mode".into());
    };
    let confirmed = match setup::connect(settings).await {
        Ok(client) => setup::prepare(settings, &client).await,
        Err(e) => Err(e),
    };
    let confirmed = match confirmed {
        Ok(lsn) => lsn,
        Err(e) => return End::Lost(e.to_string()),
    };
    positions.acked = positions.acked.max(confirmed);
    let start = positions.emitted.max(confirmed);
    let config = ReplicationConfig::new(
        settings.host.clone(),
        settings.user.clone(),
        settings.password.clone(),
        settings.database.clone(),
        slot.clone(),
        publication.clone(),
    )
    .with_port(settings.port)
    .with_tls(TlsConfig::disabled())
    .with_start_lsn(start)
    .with_ack_lsn(positions.acked)
    .with_status_interval(settings.heartbeat)
    .with_wakeup_interval(settings.heartbeat)
    .with_application_name("evhost");
    let mut client = match ReplicationClient::connect(config).await {
        Ok(client) => client,
        Err(e) => return End::Lost(e.to_string()),
    };
    if let Err(e) = client.wait_started().await {
        return End::Lost(e.to_string());
    }
    ctx.info(format!("streaming slot `{slot}` (publication `{publication}`) from {}, from {start}", settings.server()));
    let mut stream = Stream {
        settings,
        emitter,
        report: None,
        relations: Relations::new(),
        tx: None,
        buffer: Vec::new(),
        tx_ticket: None,
        pending: VecDeque::new(),
        positions,
    };
    loop {
        let front = stream.pending.front().map(|(ticket, _)| ticket.clone());
        let committed = async move {
            match front {
                Some(ticket) => ticket.committed().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            event = client.recv() => {
                let event = match event {
                    Ok(Some(event)) => event,
                    Ok(None) => return End::Lost("the server ended the stream".into()),
                    Err(e) => return End::Lost(e.to_string()),
                };
                if let Err(end) = stream.handle(event) {
                    return end;
                }
            }
            done = committed => {
                if done.is_err() {
                    return End::Stopped;
                }
                stream.acknowledge();
            }
        }
        if let Some(lsn) = stream.report.take() {
            client.update_applied_lsn(lsn);
        }
    }
}

struct Stream<'a> {
    settings: &'a Settings,
    emitter: &'a mut Emitter,
    /// A newer position to confirm to the server.
    report: Option<Lsn>,
    relations: Relations,
    tx: Option<Transaction>,
    /// The open transaction's events not emitted yet: at most `batch`.
    buffer: Vec<OutEvent<'static>>,
    /// The open transaction's last emitted part, when it was split.
    tx_ticket: Option<Ticket>,
    /// Positions to confirm once their ticket is committed, in order.
    pending: VecDeque<(Ticket, Lsn)>,
    positions: &'a mut Positions,
}

impl Stream<'_> {
    fn handle(&mut self, event: ReplicationEvent) -> Result<(), End> {
        match event {
            ReplicationEvent::Begin { final_lsn, xid, commit_time_micros } => {
                self.tx = Some(Transaction {
                    xid,
                    commit_lsn: final_lsn,
                    time: events::pg_time(commit_time_micros),
                    database: self.settings.database.clone(),
                    index: 0,
                });
            }
            ReplicationEvent::XLogData { wal_start, data, .. } => {
                let message = pgoutput::decode(&data).map_err(|e| End::Lost(e.to_string()))?;
                match message {
                    Message::Relation(oid, relation) => {
                        self.relations.insert(oid, relation);
                    }
                    Message::Change(change) => {
                        let tx = self.tx.as_mut().ok_or_else(|| End::Lost("a change outside a transaction".into()))?;
                        let out = events::events(tx, &self.relations, change, wal_start)
                            .map_err(|e| End::Lost(e.to_string()))?;
                        self.buffer.extend(out);
                        if self.buffer.len() >= self.settings.batch {
                            self.tx_ticket = Some(self.emit()?);
                        }
                    }
                    Message::Other => {}
                }
            }
            ReplicationEvent::Commit { end_lsn, .. } => {
                let ticket = if self.buffer.is_empty() { self.tx_ticket.take() } else { Some(self.emit()?) };
                self.tx_ticket = None;
                self.tx = None;
                self.positions.emitted = self.positions.emitted.max(end_lsn);
                self.confirm_after(ticket, end_lsn);
            }
            ReplicationEvent::KeepAlive { wal_end, .. } if self.tx.is_none() => {
                self.confirm_after(None, wal_end);
            }
            ReplicationEvent::KeepAlive { .. } | ReplicationEvent::Message { .. } => {}
            ReplicationEvent::StoppedAt { .. } => return Err(End::Lost("the stream stopped".into())),
        }
        Ok(())
    }

    /// Emits the buffered events as one atomic batch.
    fn emit(&mut self) -> Result<Ticket, End> {
        let ticket = self.emitter.emit_tracked(&self.buffer).map_err(|e| match e {
            EmitError::Stopped => End::Stopped,
            other => End::Fatal(format!(
                "the host refused a transaction's batch of {} events: {other}; lower `batch` (now {}) below the log's capacity, or raise [log] capacity / max_bytes",
                self.buffer.len(),
                self.settings.batch
            )),
        })?;
        self.buffer.clear();
        Ok(ticket)
    }

    /// Confirms `lsn` once `ticket` (or, without one, every ticket before) is committed.
    fn confirm_after(&mut self, ticket: Option<Ticket>, lsn: Lsn) {
        let ticket = ticket.or_else(|| self.pending.back().map(|(ticket, _)| ticket.clone()));
        match ticket {
            None => self.confirm(lsn),
            Some(ticket) => match self.pending.back_mut() {
                // The same batch twice (a keepalive after a commit): the later position.
                Some((last, at)) if last.seq() == ticket.seq() => *at = (*at).max(lsn),
                _ => self.pending.push_back((ticket, lsn)),
            },
        }
    }

    /// Confirms what the committed tickets at the front of the queue cover.
    fn acknowledge(&mut self) {
        let mut upto = None;
        while let Some((ticket, lsn)) = self.pending.front() {
            if !ticket.is_committed() {
                break;
            }
            upto = Some(*lsn);
            self.pending.pop_front();
        }
        if let Some(lsn) = upto {
            self.confirm(lsn);
        }
    }

    fn confirm(&mut self, lsn: Lsn) {
        if lsn > self.positions.acked {
            self.positions.acked = lsn;
            self.report = Some(lsn);
        }
    }
}
