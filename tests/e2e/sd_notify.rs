//! systemd's readiness protocol: with NOTIFY_SOCKET set, `READY=1`, `RELOADING=1` and
//! `READY=1` around a reload, `STOPPING=1`, in order, on a socket the test binds; and a
//! socket that is not there is a warning.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use nix::sys::signal::Signal;
use serde_json::json;

use crate::reload::{file, stop, ticker};
use crate::support::{free_port, Env, SETTLE_LIMIT};

#[test]
fn sd_notify_says_ready_reloading_ready_and_stopping_in_order() {
    let env = Env::new();
    let name = format!("evhost-test-{}-{}", std::process::id(), free_port());
    let socket = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
    socket.set_read_timeout(Some(SETTLE_LIMIT)).unwrap();
    let next = || {
        let mut buffer = [0u8; 512];
        let n = socket.recv(&mut buffer).expect("a message from evhost on NOTIFY_SOCKET");
        String::from_utf8(buffer[..n].to_vec()).unwrap()
    };
    env.write_config(&file(ticker(100), "a", json!({})));
    let notify = format!("@{name}");
    let mut host = env.start_with(&["run", "-c", "evhost.toml"], &[("NOTIFY_SOCKET", &notify)]);
    assert_eq!(next(), "READY=1");
    host.wait_for_line("evhost is running");

    host.signal(Signal::SIGHUP);
    let reloading = next();
    let usec = reloading.strip_prefix("RELOADING=1\nMONOTONIC_USEC=").unwrap_or_else(|| panic!("{reloading:?}"));
    assert!(usec.parse::<u64>().unwrap() > 0);
    assert_eq!(next(), "READY=1");
    host.signal(Signal::SIGTERM);
    assert_eq!(next(), "STOPPING=1");
    host.wait().expect_code(0);
}

#[test]
fn an_unusable_notify_socket_is_a_warning() {
    let env = Env::new();
    env.write_config(&file(ticker(100), "a", json!({})));
    let missing = env.path("no-such-folder/notify").display().to_string();
    let mut host = env.start_with(&["run", "-c", "evhost.toml"], &[("NOTIFY_SOCKET", &missing)]);
    let warning = host.wait_for_line("through NOTIFY_SOCKET");
    assert!(warning.contains("cannot tell systemd \"READY=1\""), "{warning}");
    // The host runs on: it answers a reload and stops cleanly.
    host.signal(Signal::SIGHUP);
    host.wait_for_line("reloaded");
    stop(host);
}
