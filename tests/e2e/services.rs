//! Real servers for the tests, started the way `make services` starts them
//! (tests/services/*.sh): installed when missing (once per test run), then one server per
//! test on a free port with its data in a temporary folder, stopped when its guard drops —
//! also when the test panics.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::support::{free_port, root};

/// Runs `tests/services/<script> ARGS`; panics with its output when it fails.
fn script(script: &str, args: &[&str]) -> String {
    let path = root().join("tests/services").join(script);
    let out = Command::new("sh").arg(&path).args(args).output().expect("run sh");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "`{} {}` failed:\n{text}", path.display(), args.join(" "));
    text
}

/// A nats-server with JetStream (`sync_interval: always`), running while this lives.
pub struct Nats {
    port: u16,
    dir: tempfile::TempDir,
}

impl Nats {
    /// Installs nats-server when missing (the first call of the run), then starts one.
    pub fn start() -> Nats {
        static INSTALLED: OnceLock<()> = OnceLock::new();
        INSTALLED.get_or_init(|| {
            script("nats.sh", &["install"]);
        });
        let nats = Nats { port: free_port(), dir: data_dir() };
        nats.up();
        nats
    }

    fn up(&self) {
        script("nats.sh", &["start", &self.port.to_string(), &self.dir().display().to_string()]);
    }

    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops the server (SIGTERM: it writes its state and exits), keeping its data.
    pub fn stop(&self) {
        script("nats.sh", &["stop", &self.dir().display().to_string()]);
    }

    /// Starts it again on the same port with the same data.
    pub fn restart(&self) {
        self.up();
    }
}

/// A temporary folder for a server's data: on tmpfs (/dev/shm) when the machine has one.
/// The server still fsyncs every write (`sync_interval: always`), which costs nothing
/// there, where a disk takes about a millisecond per message; the tests kill processes,
/// not the machine, and a killed process loses nothing the kernel holds.
fn data_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() };
    dir.expect("a temporary folder")
}

impl Drop for Nats {
    fn drop(&mut self) {
        let path = root().join("tests/services/nats.sh");
        let _ = Command::new("sh").arg(path).arg("stop").arg(self.dir.path()).output();
    }
}
