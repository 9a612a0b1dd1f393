//! `nats-publish`: every event to a NATS subject, binary mode by default, with
//! `Nats-Msg-Id` = the event's id so that JetStream drops what it already stored.
//!
//! A batch goes out pipelined: every message is sent, then every PubAck awaited, so a batch
//! costs about one round trip, not one per event. The first message without its PubAck
//! (a timeout, a server error, the connection gone) ends the batch with `RETRY` from that
//! event: the host sends the rest again after a backoff, and JetStream drops the ones it
//! had stored after all (same id, within the stream's duplicate window, two minutes by
//! default).

use async_nats::jetstream::context::{Context as JetStream, ContextBuilder, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::{Client, HeaderMap};
use bytes::Bytes;
use evhost_sdk::{Batch, Consumer, Context, Delivery, Error, Event};
use tokio::runtime::Runtime;

use crate::binding;
use crate::config::{Mode, PublishConfig, PublishSettings};
use crate::connect;

pub struct Publish {
    runtime: Runtime,
    client: Client,
    js: JetStream,
    settings: PublishSettings,
}

impl Consumer for Publish {
    const NAME: &'static str = "nats-publish";
    const DESCRIPTION: &'static str =
        "publishes events to NATS (JetStream by default; CloudEvents NATS binding, binary or structured mode)";
    type Config = PublishConfig;

    fn create(_ctx: Context, config: PublishConfig) -> Result<Self, Error> {
        let settings = config.check()?;
        let runtime = connect::runtime(Self::NAME)?;
        let url = settings.url.clone();
        let (client, js) = connect::within(
            &runtime,
            settings.connect_timeout,
            || format!("the NATS server at {url}"),
            async {
                let client = connect::connect(&settings.url, Self::NAME, settings.connect_timeout).await?;
                let js = ContextBuilder::new().timeout(settings.timeout).build(client.clone());
                if let Some((name, create)) = &settings.stream {
                    let subjects = match create {
                    false => None,
                    true => Some(vec![settings.subject.stream_subject().ok_or_else(|| {
                        Error::config("config: `create_stream` needs a `subject` whose first token is fixed (such as \"events.{type}\"), to give the new stream a subject filter such as \"events.>\"")
                    })?]),
                };
                    connect::stream(&js, &settings.url, name, subjects).await?;
                }
                Ok((client, js))
            },
        )?;
        Ok(Publish { runtime, client, js, settings })
    }

    fn on_events(&mut self, batch: &Batch<'_>) -> Delivery {
        let mut messages = Vec::with_capacity(batch.len());
        let mut unpublishable = None;
        for (i, event) in batch.iter().enumerate() {
            match self.settings.subject.render(event) {
                Ok(subject) => messages.push((subject, self.message(event))),
                Err(why) => {
                    unpublishable = Some((i, why));
                    break;
                }
            }
        }
        let sent = if self.settings.jetstream {
            self.runtime.block_on(self.jetstream(messages))
        } else {
            self.runtime.block_on(self.core(messages))
        };
        match (sent, unpublishable) {
            (Err(delivery), _) => delivery,
            (Ok(()), Some((i, why))) => Delivery::fail(
                i,
                format!(
                    "cannot publish: {why}; set `subject` to a template every event fills, e.g. \"events.{{type}}\""
                ),
            ),
            (Ok(()), None) => Delivery::Ok,
        }
    }
}

/// PubAcks awaited at most at once: below async-nats' default `max_ack_inflight` (5 000).
const ACK_WINDOW: usize = 4096;

impl Publish {
    /// The headers and payload of `event` in the configured mode.
    fn message(&self, event: &Event) -> (HeaderMap, Bytes) {
        match self.settings.mode {
            Mode::Binary => (binding::binary(event), Bytes::copy_from_slice(event.data())),
            Mode::Structured => {
                let (headers, payload) = binding::structured(event);
                (headers, Bytes::from(payload))
            }
        }
    }

    /// Sends the messages a window at a time and awaits each window's PubAcks before the
    /// next; `Err` is the answer for the host. async-nats lets 5 000 PubAcks be outstanding
    /// (`max_ack_inflight`) and past that waits for one to be awaited, so sending a whole
    /// batch of more before awaiting any would wait forever (the conformance kit's batch of
    /// 10 000 found it).
    async fn jetstream(&self, messages: Vec<(String, (HeaderMap, Bytes))>) -> Result<(), Delivery> {
        let mut messages = messages.into_iter().enumerate().peekable();
        while messages.peek().is_some() {
            let mut pending = Vec::with_capacity(ACK_WINDOW);
            let mut failed = None;
            for (i, (subject, (headers, payload))) in messages.by_ref().take(ACK_WINDOW) {
                let message = PublishMessage::build().payload(payload).headers(headers);
                match self.js.send_publish(subject.clone(), message).await {
                    Ok(ack) => pending.push((i, subject, ack)),
                    Err(e) => {
                        failed = Some((i, subject, e));
                        break;
                    }
                }
            }
            for (i, subject, ack) in pending {
                if let Err(e) = ack.await {
                    return Err(self.failure(i, &subject, e));
                }
            }
            if let Some((i, subject, e)) = failed {
                return Err(self.failure(i, &subject, e));
            }
        }
        Ok(())
    }

    fn failure(&self, handled: usize, subject: &str, e: async_nats::jetstream::context::PublishError) -> Delivery {
        let url = &self.settings.url;
        match e.kind() {
            PublishErrorKind::MaxPayloadExceeded => {
                Delivery::fail(handled, format!("cannot publish to {subject} on {url}: {e}; raise the server's max_payload or send large data by reference"))
            }
            PublishErrorKind::StreamNotFound => Delivery::retry(
                handled,
                format!("cannot publish to {subject} on {url}: no stream captures that subject; create one (or set `stream` and `create_stream = true`), or change `subject`"),
            ),
            _ => Delivery::retry(handled, format!("no PubAck for {subject} from {url}: {e}; will retry")),
        }
    }

    /// Core NATS: publish, then one flush for the batch; nothing is acknowledged.
    async fn core(&self, messages: Vec<(String, (HeaderMap, Bytes))>) -> Result<(), Delivery> {
        let count = messages.len();
        for (i, (subject, (headers, payload))) in messages.into_iter().enumerate() {
            if let Err(e) = self.client.publish_with_headers(subject.clone(), headers, payload).await {
                return Err(Delivery::retry(i, format!("cannot publish to {subject} on {}: {e}", self.settings.url)));
            }
        }
        let flushed = tokio::time::timeout(self.settings.timeout, self.client.flush()).await;
        match flushed {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                Err(Delivery::retry(0, format!("cannot flush {count} messages to {}: {e}", self.settings.url)))
            }
            Err(_) => Err(Delivery::retry(
                0,
                format!("flushing {count} messages to {} took over `timeout`", self.settings.url),
            )),
        }
    }
}
