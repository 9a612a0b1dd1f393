//! `nats-subscribe`: NATS messages in, as events. With JetStream (the default) a durable
//! pull consumer reads a stream and acknowledges each message only once its event is
//! committed ([`pull`](crate::pull)); with `jetstream = false` core NATS subscriptions
//! deliver what arrives while the host is connected ([`core`](crate::core)).

use async_nats::jetstream::consumer::pull::Config as PullConfig;
use async_nats::jetstream::consumer::{AckPolicy, PullConsumer};
use async_nats::Client;
use evhost_sdk::{Context, Emitter, Error, Producer};
use tokio::runtime::Runtime;
use tokio::sync::watch;

use crate::config::{Source, SubscribeConfig, SubscribeSettings};
use crate::{connect, core, pull};

pub struct Subscribe {
    ctx: Context,
    runtime: Runtime,
    settings: SubscribeSettings,
    client: Client,
    /// The durable consumer, with JetStream.
    consumer: Option<PullConsumer>,
    stop: watch::Sender<bool>,
}

impl Producer for Subscribe {
    const NAME: &'static str = "nats-subscribe";
    const DESCRIPTION: &'static str =
        "NATS messages in as events: a JetStream durable pull consumer that acks after commit, or core NATS subjects";
    type Config = SubscribeConfig;

    fn create(ctx: Context, config: SubscribeConfig) -> Result<Self, Error> {
        let settings = config.check()?;
        let runtime = connect::runtime(Self::NAME)?;
        let url = settings.url.clone();
        let (client, consumer) = connect::within(
            &runtime,
            settings.connect_timeout,
            || format!("the NATS server at {url}"),
            async {
                let client = connect::connect(&settings.url, Self::NAME, settings.connect_timeout).await?;
                let consumer = match &settings.source {
                    Source::Core { .. } => None,
                    Source::JetStream { stream, durable, create_stream, ack_wait, max_ack_pending } => {
                        let js = async_nats::jetstream::new(client.clone());
                        let create = create_stream.then(|| settings.subjects.clone());
                        let stream = connect::stream(&js, &settings.url, stream, create).await?;
                        let mut config = PullConfig {
                            durable_name: Some(durable.clone()),
                            ack_policy: AckPolicy::Explicit,
                            ack_wait: *ack_wait,
                            max_ack_pending: *max_ack_pending,
                            ..Default::default()
                        };
                        match settings.subjects.as_slice() {
                            [one] => config.filter_subject = one.clone(),
                            many => config.filter_subjects = many.to_vec(),
                        }
                        let consumer = stream.get_or_create_consumer(durable, config).await.map_err(|e| {
                        Error::config(format!(
                            "cannot create the durable consumer {durable:?} on stream {:?}: {e}; check that `subjects` are within the stream's subjects",
                            stream.cached_info().config.name
                        ))
                    })?;
                        Some(consumer)
                    }
                };
                Ok((client, consumer))
            },
        )?;
        Ok(Subscribe { ctx, runtime, settings, client, consumer, stop: watch::Sender::new(false) })
    }

    fn run(&self, emitter: &mut Emitter) -> Result<(), Error> {
        let stop = self.stop.subscribe();
        let batch = self.settings.batch;
        match (&self.consumer, &self.settings.source) {
            (Some(consumer), _) => self.runtime.block_on(pull::pull(consumer, emitter, &self.ctx, batch, stop)),
            (None, Source::Core { queue }) => self.runtime.block_on(core::listen(
                &self.client,
                &self.settings.subjects,
                queue.as_deref(),
                emitter,
                &self.ctx,
                batch,
                stop,
            )),
            (None, Source::JetStream { .. }) => Err(Error::new("the JetStream consumer is missing")),
        }
    }

    fn stop(&self) {
        self.stop.send_replace(true);
    }
}
