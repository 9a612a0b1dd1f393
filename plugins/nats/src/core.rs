//! Core NATS for `nats-subscribe` (`jetstream = false`): subscriptions, in a queue group
//! when `durable` names one. Best effort, as core NATS is: a message published while the
//! host is not connected, or that the server drops because the host is slow, is gone.

use async_nats::{Client, Message};
use chrono::{SecondsFormat, Utc};
use evhost_sdk::{Context, EmitError, Emitter, Error, OutEvent};
use futures_util::{FutureExt, StreamExt};
use tokio::sync::watch;

use crate::binding::{decode, Origin};

pub async fn listen(
    client: &Client,
    subjects: &[String],
    queue: Option<&str>,
    emitter: &mut Emitter,
    ctx: &Context,
    batch: usize,
    mut stop: watch::Receiver<bool>,
) -> Result<(), Error> {
    let mut subscriptions = Vec::with_capacity(subjects.len());
    for subject in subjects {
        let subscribed = match queue {
            Some(queue) => client.queue_subscribe(subject.clone(), queue.to_owned()).await,
            None => client.subscribe(subject.clone()).await,
        };
        subscriptions.push(subscribed.map_err(|e| Error::new(format!("cannot subscribe to {subject}: {e}")))?);
    }
    let mut all = futures_util::stream::select_all(subscriptions);
    loop {
        let first = tokio::select! {
            _ = stop.changed() => return Ok(()),
            next = all.next() => next,
        };
        let Some(first) = first else { return Ok(()) };
        let mut taken: Vec<Message> = vec![first];
        while taken.len() < batch {
            match all.next().now_or_never() {
                Some(Some(message)) => taken.push(message),
                _ => break,
            }
        }
        let time = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
        let events: Vec<OutEvent<'_>> = taken
            .iter()
            .filter_map(|m| {
                decode(&m.subject, m.headers.as_ref(), &m.payload, Origin::Core { time: time.clone() })
                    .map_err(|why| {
                        ctx.error(format!("a message on {} is not a valid CloudEvent: {why}; dropped", m.subject))
                    })
                    .ok()
            })
            .collect();
        if events.is_empty() {
            continue;
        }
        match emitter.emit(&events) {
            Ok(()) => {}
            Err(EmitError::Stopped) => return Ok(()),
            Err(e) => {
                ctx.warn(format!("the host refused {} messages ({e}); dropped (core NATS keeps nothing)", events.len()))
            }
        }
    }
}
