//! systemd's readiness protocol: with `NOTIFY_SOCKET` set (a unit of `Type=notify`), the host
//! says `READY=1` once every instance runs, `RELOADING=1` (with `MONOTONIC_USEC`) and then
//! `READY=1` around each reload, and `STOPPING=1` when shutdown begins. One datagram each,
//! over std's `UnixDatagram`: the protocol is a few lines, where libsystemd would be a
//! dependency. An abstract socket is named with a leading `@`.

use std::os::unix::net::{SocketAddr, UnixDatagram};

/// The socket systemd listens on, when it does.
pub struct Notify {
    socket: UnixDatagram,
    addr: SocketAddr,
}

impl Notify {
    /// From `NOTIFY_SOCKET`; None when it is unset or unusable (said once in the log).
    pub fn from_env() -> Option<Notify> {
        let name = std::env::var_os("NOTIFY_SOCKET")?;
        let name = name.to_string_lossy();
        let addr = match name.strip_prefix('@') {
            Some(abstract_name) => {
                use std::os::linux::net::SocketAddrExt;
                SocketAddr::from_abstract_name(abstract_name.as_bytes())
            }
            None => SocketAddr::from_pathname(name.as_ref()),
        };
        match addr.and_then(|addr| Ok(Notify { socket: UnixDatagram::unbound()?, addr })) {
            Ok(notify) => Some(notify),
            Err(e) => {
                tracing::warn!("NOTIFY_SOCKET={name} cannot be used ({e}); systemd will not hear that evhost is ready");
                None
            }
        }
    }

    pub fn ready(&self) {
        self.send("READY=1");
    }

    /// A reload begins; systemd wants the time it began on the monotonic clock.
    pub fn reloading(&self) {
        let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
            .map(|t| t.tv_sec() as u64 * 1_000_000 + t.tv_nsec() as u64 / 1_000)
            .unwrap_or(0);
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={now}"));
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }

    fn send(&self, message: &str) {
        if let Err(e) = self.socket.send_to_addr(message.as_bytes(), &self.addr) {
            tracing::warn!("cannot tell systemd {:?} through NOTIFY_SOCKET: {e}", message.lines().next().unwrap_or(""));
        }
    }
}
