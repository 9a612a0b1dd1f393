//! A real PostgreSQL for the `postgres` plugin's tests: tests/services/postgres.sh installs
//! it when it is missing and starts it on a free port in a temporary folder; dropping the
//! guard stops it, also when the test panicked. No mocks.

use std::process::Command;
use std::sync::Mutex;

use crate::support::{free_port, root};

/// One install at a time: tests start in parallel, and apt-get holds a lock.
static INSTALL: Mutex<bool> = Mutex::new(false);

pub struct PgServer {
    dir: tempfile::TempDir,
    pub port: u16,
}

fn script(args: &[&str]) {
    let out = Command::new(root().join("tests/services/postgres.sh")).args(args).output().expect("run postgres.sh");
    assert!(
        out.status.success(),
        "tests/services/postgres.sh {} failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PgServer {
    /// Installs PostgreSQL if needed and starts a server of its own.
    pub fn start() -> PgServer {
        {
            let mut installed = INSTALL.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if !*installed {
                script(&["install"]);
                *installed = true;
            }
        }
        let server = PgServer { dir: tempfile::tempdir().expect("a temporary folder"), port: free_port() };
        server.start_again();
        server
    }

    /// Starts the server again after `stop`, on the same port and data.
    pub fn start_again(&self) {
        script(&["start", &self.port.to_string(), &self.dir.path().display().to_string()]);
    }

    /// A fast shutdown: what was committed is in the WAL.
    pub fn stop(&self) {
        script(&["stop", &self.dir.path().display().to_string()]);
    }

    pub fn url(&self) -> String {
        format!("postgres://evhost:evhost@127.0.0.1:{}/evhost", self.port)
    }

    /// Runs `sql` (one or more statements, each its own transaction unless it says BEGIN)
    /// with psql and answers its rows, unaligned, one per line.
    pub fn sql(&self, sql: &str) -> String {
        let out = self.psql(sql);
        assert!(out.status.success(), "psql failed on {sql:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn psql(&self, sql: &str) -> std::process::Output {
        Command::new("psql")
            .args(["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "evhost", "-d", "evhost"])
            .args(["-p", &self.port.to_string(), "-c", sql])
            .env("PGPASSWORD", "evhost")
            .output()
            .expect("run psql (installed with PostgreSQL)")
    }

    /// The slot's confirmed position and the server's current WAL position, as numbers.
    pub fn slot_and_wal(&self, slot: &str) -> (u64, u64) {
        let row = self.sql(&format!(
            "SELECT confirmed_flush_lsn - '0/0'::pg_lsn, pg_current_wal_lsn() - '0/0'::pg_lsn FROM pg_replication_slots WHERE slot_name = '{slot}'"
        ));
        let (a, b) = row.split_once('|').unwrap_or_else(|| panic!("no slot {slot}: {row:?}"));
        (a.parse().expect("a number"), b.parse().expect("a number"))
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let dir = self.dir.path().display().to_string();
        let _ = Command::new(root().join("tests/services/postgres.sh")).args(["stop", &dir]).output();
    }
}
