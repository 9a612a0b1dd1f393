//! One connection's clock. The socket is wrapped so that the first byte of a request is
//! seen as it arrives, and the handler marks when a request's head is complete and when
//! its answer is ready; [`Clock::expired`] resolves when the connection overstays the phase
//! it is in: idle past `idle_timeout`, or in a head past `header_timeout`.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use crate::Limits;

/// Where a connection is in its request cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Accepted, or answered, and no byte of a next request yet.
    Idle,
    /// Bytes of a head came, the head is not complete.
    Head,
    /// A handler has the request (its body has its own deadline there).
    Busy,
}

pub struct Clock {
    state: Mutex<(Phase, Instant)>,
    changed: Notify,
}

impl Clock {
    pub fn new() -> Arc<Clock> {
        Arc::new(Clock { state: Mutex::new((Phase::Idle, Instant::now())), changed: Notify::new() })
    }

    fn state(&self) -> (Phase, Instant) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn set(&self, phase: Phase) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = (phase, Instant::now());
        self.changed.notify_one();
    }

    fn bytes_arrived(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.0 == Phase::Idle {
            *state = (Phase::Head, Instant::now());
            self.changed.notify_one();
        }
    }

    /// Resolves with the phase the connection overstayed; sleeps in between (no polling).
    pub async fn expired(&self, limits: &Limits) -> Phase {
        loop {
            // Made before the state is read: a change in between leaves its permit here.
            let changed = self.changed.notified();
            let (phase, since) = self.state();
            let limit = match phase {
                Phase::Idle => limits.idle_timeout,
                Phase::Head => limits.header_timeout,
                Phase::Busy => {
                    changed.await;
                    continue;
                }
            };
            tokio::select! {
                () = tokio::time::sleep_until((since + limit).into()) => {
                    if self.state() == (phase, since) {
                        return phase;
                    }
                }
                () = changed => {}
            }
        }
    }
}

/// A socket that tells its clock when bytes arrive.
pub struct Watched<T> {
    inner: T,
    clock: Arc<Clock>,
}

impl<T> Watched<T> {
    pub fn new(inner: T, clock: Arc<Clock>) -> Self {
        Watched { inner, clock }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.clock.bytes_arrived();
        }
        poll
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
