//! The producer: directory mode on the host's thread, S3 mode on a scoped thread of its own,
//! both ended by `stop`.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, PoisonError};

use evhost_sdk::{Context, Emitter, Error, Producer};
use tiny_http::Server;

use crate::config::{Config, Directory};
use crate::directory::{self, Message};
use crate::s3;

pub struct Objects {
    ctx: Context,
    directory: Option<Directory>,
    /// The S3 endpoint, listening since `create`, and its token.
    s3: Option<(Server, Option<String>)>,
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
        let s3 = match settings.s3 {
            Some(s3) => {
                let server = Server::from_listener(s3.listener, None)
                    .map_err(|e| Error::config(format!("cannot serve on `s3_listen`: {e}")))?;
                Some((server, s3.token))
            }
            None => None,
        };
        let (sender, receiver) = mpsc::channel();
        Ok(Objects { ctx, directory: settings.directory, s3, sender, receiver: Mutex::new(Some(receiver)) })
    }

    fn run(&self, emitter: &mut Emitter) -> Result<(), Error> {
        let receiver = self.receiver.lock().unwrap_or_else(PoisonError::into_inner).take();
        let receiver = receiver.ok_or_else(|| Error::new("run was called twice"))?;
        std::thread::scope(|scope| {
            if let Some((server, token)) = &self.s3 {
                let address = server.server_addr().to_ip().map_or_else(|| "?".into(), |a| a.to_string());
                let emitter = emitter.clone();
                scope.spawn(move || s3::serve(server, token.as_deref(), &self.ctx, emitter));
                self.ctx.info(format!("listening for S3 event notifications on http://{address}"));
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
            if let Some((server, _)) = &self.s3 {
                server.unblock();
            }
            result
        })
    }

    fn stop(&self) {
        let _ = self.sender.send(Message::Stop);
        if let Some((server, _)) = &self.s3 {
            server.unblock();
        }
    }
}
