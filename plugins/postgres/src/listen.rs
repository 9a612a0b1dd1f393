//! Listen mode: `LISTEN` on the configured channels and one event per notification.
//! Best effort by nature: PostgreSQL keeps no notification for a listener that is not
//! connected, so what is sent while the connection is down is gone.

use std::time::Duration;

use evhost_sdk::{Context, EmitError, Emitter, OutEvent};
use futures_util::future::poll_fn;
use tokio::sync::{mpsc, watch};
use tokio_postgres::{AsyncMessage, NoTls, Notification};

use crate::config::{Mode, Settings};
use crate::error::PgError;

const BACKOFF: Duration = Duration::from_secs(1);
/// Notifications read ahead of the emitter; past this the connection stops reading and the
/// server queues them.
const QUEUE: usize = 1024;

pub async fn run(settings: &Settings, emitter: &mut Emitter, ctx: &Context, mut stop: watch::Receiver<bool>) {
    let mut session = 0u64;
    loop {
        session += 1;
        let end = tokio::select! {
            end = listen(settings, emitter, ctx, session) => end,
            _ = stop.wait_for(|stop| *stop) => return,
        };
        match end {
            Ok(()) => return,
            Err(why) => ctx.warn(format!(
                "listening at {} stopped: {why}; notifications sent until it is back are lost; reconnecting in {BACKOFF:?}",
                settings.server()
            )),
        }
        tokio::select! {
            _ = tokio::time::sleep(BACKOFF) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

/// One connection: `Ok` when the host stopped, `Err` when the connection broke.
async fn listen(settings: &Settings, emitter: &mut Emitter, ctx: &Context, session: u64) -> Result<(), String> {
    let Mode::Listen { channels } = &settings.mode else {
        return Ok(());
    };
    let (client, mut connection) = settings
        .pg
        .connect(NoTls)
        .await
        .map_err(|e| PgError::from_driver(&e, &settings.server(), &settings.database).to_string())?;
    let (tx, mut rx) = mpsc::channel::<Notification>(QUEUE);
    let reader = tokio::spawn(async move {
        loop {
            match poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if tx.send(n).await.is_err() {
                        return "stopped".to_owned();
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return e.to_string(),
                None => return "the server closed the connection".to_owned(),
            }
        }
    });
    for channel in channels {
        let sql = format!("LISTEN \"{}\"", channel.replace('"', "\"\""));
        client.batch_execute(&sql).await.map_err(|e| e.to_string())?;
    }
    ctx.info(format!("listening on {} at {}", channels.join(", "), settings.server()));
    let started = chrono::Utc::now().timestamp_micros();
    let mut n = 0u64;
    while let Some(note) = rx.recv().await {
        n += 1;
        let event = OutEvent {
            id: format!("{started}.{session}/{n}").into(),
            source: format!("/postgres/{}", settings.database).into(),
            ty: "dev.evhost.postgres.notification".into(),
            subject: Some(note.channel().to_owned().into()),
            time: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true).into()),
            datacontenttype: Some("text/plain".into()),
            data: note.payload().as_bytes().to_vec().into(),
            extensions: vec![("pgpid".into(), note.process_id().to_string().into())],
            ..OutEvent::default()
        };
        match emitter.emit(&[event]) {
            Ok(()) => {}
            Err(EmitError::Stopped) => return Ok(()),
            Err(e) => ctx.error(format!("a notification on {} was refused by the host: {e}", note.channel())),
        }
    }
    drop(client);
    Err(reader.await.unwrap_or_else(|e| e.to_string()))
}
