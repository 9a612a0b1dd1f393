//! The JetStream side of `nats-subscribe`: pull messages, emit them as one batch, and
//! acknowledge them once the host committed the batch (with the disk log: once it is on
//! disk), so a crash at any moment loses nothing: an unacknowledged message is delivered
//! again after `ack_wait`.

use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::{AckKind, Message};
use chrono::SecondsFormat;
use evhost_sdk::{Context, EmitError, Emitter, Error, OutEvent, Ticket};
use futures_util::{FutureExt, StreamExt};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::binding::{decode, Origin};

/// How long a message the host refused waits before JetStream delivers it again.
const REFUSED_DELAY: Duration = Duration::from_secs(5);
/// How long to wait before pulling again after the pull itself failed.
const PULL_AGAIN: Duration = Duration::from_secs(1);
/// At stop, how long acknowledgements of committed batches may still take.
const ACK_DRAIN: Duration = Duration::from_secs(5);

pub async fn pull(
    consumer: &PullConsumer,
    emitter: &mut Emitter,
    ctx: &Context,
    batch: usize,
    mut stop: watch::Receiver<bool>,
) -> Result<(), Error> {
    let mut acks = JoinSet::new();
    // Warn when pulling starts to fail, not at every failed heartbeat while the server is away.
    let mut healthy = true;
    'pulling: while !*stop.borrow() {
        let mut messages = match consumer.stream().max_messages_per_batch(batch).messages().await {
            Ok(messages) => messages,
            Err(e) => {
                if std::mem::replace(&mut healthy, false) {
                    ctx.warn(format!("cannot pull from JetStream: {e}; trying again every {PULL_AGAIN:?}"));
                }
                tokio::select! {
                    _ = stop.changed() => break 'pulling,
                    () = tokio::time::sleep(PULL_AGAIN) => continue 'pulling,
                }
            }
        };
        loop {
            let next = tokio::select! {
                _ = stop.changed() => break 'pulling,
                next = messages.next() => next,
            };
            let first = match next {
                None => continue 'pulling,
                Some(Err(e)) => {
                    if std::mem::replace(&mut healthy, false) {
                        ctx.warn(format!("pulling from JetStream: {e}; the client reconnects by itself"));
                    }
                    continue;
                }
                Some(Ok(message)) => message,
            };
            if !std::mem::replace(&mut healthy, true) {
                ctx.info("pulling from JetStream again");
            }
            let mut taken = vec![first];
            while taken.len() < batch {
                match messages.next().now_or_never() {
                    Some(Some(Ok(message))) => taken.push(message),
                    _ => break,
                }
            }
            if !emit(taken, emitter, ctx, &mut acks).await {
                break 'pulling;
            }
            while acks.try_join_next().is_some() {}
        }
    }
    // Batches the host committed are acknowledged before the instance goes; the others are
    // delivered again after `ack_wait`, to this host or another.
    if tokio::time::timeout(ACK_DRAIN, async { while acks.join_next().await.is_some() {} }).await.is_err() {
        ctx.warn(format!("stopped before every committed message was acknowledged within {ACK_DRAIN:?}; JetStream delivers those again"));
    }
    Ok(())
}

/// Emits `events`, in halves (and their halves) when the batch is too large for the host's
/// log, so that a small log still takes every message that fits alone. The last ticket
/// covers the earlier ones: the host commits in order. Halves emitted before a later one is
/// refused are emitted again with it when JetStream delivers them again: duplicates, which
/// event ids make detectable, never a loss.
fn emit_split(emitter: &mut Emitter, events: &[OutEvent<'_>]) -> Result<Ticket, EmitError> {
    match emitter.emit_tracked(events) {
        Err(EmitError::TooLarge) if events.len() > 1 => {
            let (first, second) = events.split_at(events.len() / 2);
            emit_split(emitter, first)?;
            emit_split(emitter, second)
        }
        emitted => emitted,
    }
}

/// Emits `taken` as one batch and leaves a task that acks it once committed. `false` when
/// the host stopped.
async fn emit(taken: Vec<Message>, emitter: &mut Emitter, ctx: &Context, acks: &mut JoinSet<()>) -> bool {
    let mut events: Vec<OutEvent<'_>> = Vec::with_capacity(taken.len());
    let mut good = vec![true; taken.len()];
    for (i, message) in taken.iter().enumerate() {
        let (stream, sequence, time) = match message.info() {
            Ok(info) => {
                (info.stream, info.stream_sequence, info.published.to_rfc3339_opts(SecondsFormat::AutoSi, true))
            }
            Err(e) => {
                ctx.error(format!("a message on {} has no JetStream metadata ({e}); terminated", message.subject));
                good[i] = false;
                continue;
            }
        };
        let origin = Origin::Stream { stream, sequence, time };
        match decode(&message.subject, message.headers.as_ref(), &message.payload, origin) {
            Ok(event) => events.push(event),
            Err(why) => {
                ctx.error(format!(
                    "message {sequence} of stream {stream} (subject {}) is not a valid CloudEvent: {why}; terminated (it stays in the stream; it is never delivered again to this consumer)",
                    message.subject
                ));
                good[i] = false;
            }
        }
    }
    // Blocking is right here: this future runs on the host's thread, the connection on the
    // runtime's worker; a full log holds the pull back, and JetStream keeps the messages.
    let emitted = if events.is_empty() { None } else { Some(emit_split(emitter, &events)) };
    let count = events.len();
    drop(events);
    let (kept, bad): (Vec<_>, Vec<_>) = taken.into_iter().zip(good).partition(|(_, good)| *good);
    for (message, _) in bad {
        let _ = message.ack_with(AckKind::Term).await;
    }
    let kept: Vec<Message> = kept.into_iter().map(|(message, _)| message).collect();
    match emitted {
        None => true,
        Some(Ok(ticket)) => {
            let committed = ticket.committed();
            let ctx = ctx.clone();
            acks.spawn(async move {
                if committed.await.is_err() {
                    return; // not committed: delivered again after ack_wait
                }
                for message in &kept {
                    if let Err(e) = message.ack().await {
                        ctx.warn(format!(
                            "cannot acknowledge a message ({e}); JetStream delivers it again after ack_wait"
                        ));
                        return;
                    }
                }
            });
            true
        }
        Some(Err(EmitError::Stopped)) => {
            for message in &kept {
                let _ = message.ack_with(AckKind::Nak(None)).await;
            }
            false
        }
        Some(Err(e)) => {
            ctx.warn(format!(
                "the host refused {count} messages ({e}); JetStream delivers them again in {REFUSED_DELAY:?}"
            ));
            for message in &kept {
                let _ = message.ack_with(AckKind::Nak(Some(REFUSED_DELAY))).await;
            }
            true
        }
    }
}
