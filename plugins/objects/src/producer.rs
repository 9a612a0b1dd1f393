//! The producer: directory mode on the host's thread, S3 mode on a scoped thread of its own
//! (one tokio runtime for every connection), both ended by `stop`.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, PoisonError};

use evhost_sdk::{Context, Emitter, Error, Producer};
use tokio::sync::watch;

use crate::config::{Config, Directory, S3};
use crate::directory::{self, Message};
use crate::s3;

pub struct Objects {
    ctx: Context,
    directory: Option<Directory>,
    /// The S3 endpoint, listening since `create`; taken by `run`.
    s3: Mutex<Option<S3>>,
    /// Turns true to end S3 mode.
    s3_stop: watch::Sender<bool>,
    sender: Sender<Message>,
    receiver: Mutex<Option<Receiver<Message>>>,
}

impl Producer for Objects {
    const NAME: &'static str = "objects";
    const DESCRIPTION: &'static str =
        "object-storage events from a watched folder (a bucket) or S3 bucket notifications";
    type Config = Config;

    fn create(ctx: Context, mut config: Config) -> Result<Self, Error> {
        config.path = config.path.map(|path| ctx.resolve(path).to_string_lossy().into_owned());
        let settings = config.check()?;
        let (sender, receiver) = mpsc::channel();
        Ok(Objects {
            ctx,
            directory: settings.directory,
            s3: Mutex::new(settings.s3),
            s3_stop: watch::Sender::new(false),
            sender,
            receiver: Mutex::new(Some(receiver)),
        })
    }

    fn run(&self, emitter: &mut Emitter) -> Result<(), Error> {
        let receiver = self.receiver.lock().unwrap_or_else(PoisonError::into_inner).take();
        let receiver = receiver.ok_or_else(|| Error::new("run was called twice"))?;
        let s3 = self.s3.lock().unwrap_or_else(PoisonError::into_inner).take();
        std::thread::scope(|scope| {
            if let Some(s3) = s3 {
                let emitter = emitter.clone();
                scope.spawn(move || {
                    if let Err(e) = self.serve_s3(s3, emitter) {
                        self.ctx.error(format!("the S3 endpoint failed: {e}"));
                    }
                });
            }
            let result = match &self.directory {
                Some(settings) => directory::run(settings, &self.ctx, emitter, self.sender.clone(), &receiver),
                None => {
                    while let Ok(message) = receiver.recv() {
                        if let Message::Stop = message {
                            break;
                        }
                    }
                    Ok(())
                }
            };
            // Directory mode may end first (an error, or the host stopping): end S3 mode too.
            self.s3_stop.send_replace(true);
            result
        })
    }

    fn stop(&self) {
        let _ = self.sender.send(Message::Stop);
        self.s3_stop.send_replace(true);
    }
}

impl Objects {
    /// S3 mode until `s3_stop` turns true.
    fn serve_s3(&self, s3: S3, emitter: Emitter) -> std::io::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let mut stop = self.s3_stop.subscribe();
        let stats = runtime.block_on(async {
            s3.listener.set_nonblocking(true)?;
            let listener = tokio::net::TcpListener::from_std(s3.listener)?;
            self.ctx.info(format!("listening for S3 event notifications on http://{}", listener.local_addr()?));
            // An error means the sender is gone, which only happens when the producer is dropped.
            let stopped = async move {
                let _ = stop.wait_for(|stop| *stop).await;
            };
            std::io::Result::Ok(s3::serve(listener, s3.limits, s3.token, &self.ctx, emitter, stopped).await)
        })?;
        if stats.cut_off {
            self.ctx.warn("S3 notifications still in flight 5s after the stop request were cut off");
        }
        self.ctx.info(format!(
            "the S3 endpoint stopped: {} connections, {} closed for a head slower than s3_header_timeout, {} closed idle",
            stats.connections, stats.slow_heads, stats.idle
        ));
        Ok(())
    }
}
