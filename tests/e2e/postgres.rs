//! The `postgres` producer against a real PostgreSQL (tests/services/postgres.sh): row
//! changes in commit order, a 10 000-row transaction, a kill -9 of the host and a restart of
//! the server that lose nothing, the slot following the server on heartbeats, NOTIFY, and
//! the config errors `evhost check` reports.

use std::collections::BTreeMap;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::{json, Value};

use crate::postgres_server::PgServer;
use crate::support::{eventually, free_port, plugin, Env};

const LIMIT: Duration = Duration::from_secs(30);

/// A host: the `postgres` producer with `config` (TOML inline-table entries) into `file`.
fn env_with(server_url: &str, config: &str, log: &str) -> Env {
    let env = Env::new();
    env.config(&format!(
        r#"
{log}
[[producer]]
name = "pg"
library = "{pg}"
config = {{ url = "{server_url}"{config} }}

[[consumer]]
name = "out"
library = "{file}"
config = {{ path = "events.jsonl" }}
"#,
        config = if config.is_empty() { String::new() } else { format!(", {config}") },
        pg = plugin("libevh_postgres.so").display(),
        file = plugin("libevh_file.so").display(),
    ));
    env
}

/// An event without what differs from run to run (positions, xid, time).
fn stable(event: &Value) -> Value {
    let mut data = event["data"].clone();
    data.as_object_mut().map(|o| o.remove("lsn").zip(o.remove("xid")));
    json!({ "type": event["type"], "source": event["source"], "subject": event["subject"], "data": data })
}

/// The commit LSN and index of an event id `<commit LSN>/<index>`, comparable.
fn position(event: &Value) -> (u64, u64) {
    let id = event["id"].as_str().expect("an id");
    let mut parts = id.split('/');
    let (hi, lo, index) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    let lsn = (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap();
    (lsn, index.parse().unwrap())
}

#[test]
fn row_changes_arrive_in_commit_order_and_a_10000_row_transaction_in_one_piece() {
    let pg = PgServer::start();
    pg.sql(
        "CREATE TABLE items (id int PRIMARY KEY, name text, price numeric, meta jsonb, ok bool);
            CREATE TABLE big (id int PRIMARY KEY, v text);
            CREATE TABLE unwatched (id int)",
    );
    let env = env_with(&pg.url(), r#"tables = ["items", "public.big"], heartbeat = "200ms""#, "");
    let mut host = env.spawn();
    host.wait_for_line("streaming slot `evhost`");
    pg.sql("INSERT INTO items VALUES (1, 'pen', 1.5, '{\"tags\": [\"blue\"]}', true), (2, 'ink', 12.50, NULL, false)");
    pg.sql("BEGIN; UPDATE items SET name = 'red pen' WHERE id = 1; DELETE FROM items WHERE id = 2; COMMIT");
    pg.sql("INSERT INTO big SELECT g, 'row ' || g FROM generate_series(1, 10000) g");
    pg.sql("TRUNCATE items");
    eventually(LIMIT, "10 005 events", || env.lines_so_far("events.jsonl") >= 10_005);
    let events = env.json_lines("events.jsonl");
    assert_eq!(events.len(), 10_005);

    let first: Vec<Value> = events[..4].iter().map(stable).collect();
    let src = "/postgres/evhost/public/items";
    assert_eq!(
        first,
        vec![
            json!({"type": "dev.evhost.postgres.insert", "source": src, "subject": "1",
                   "data": {"before": null, "after": {"id": 1, "name": "pen", "price": 1.5, "meta": {"tags": ["blue"]}, "ok": true}, "table": "public.items"}}),
            json!({"type": "dev.evhost.postgres.insert", "source": src, "subject": "2",
                   "data": {"before": null, "after": {"id": 2, "name": "ink", "price": "12.50", "meta": null, "ok": false}, "table": "public.items"}}),
            json!({"type": "dev.evhost.postgres.update", "source": src, "subject": "1",
                   "data": {"before": null, "after": {"id": 1, "name": "red pen", "price": 1.5, "meta": {"tags": ["blue"]}, "ok": true}, "table": "public.items"}}),
            json!({"type": "dev.evhost.postgres.delete", "source": src, "subject": "2",
                   "data": {"before": {"id": 2}, "after": null, "table": "public.items"}}),
        ]
    );
    let truncate = stable(&events[10_004]);
    assert_eq!(truncate["type"], "dev.evhost.postgres.truncate");
    assert_eq!(truncate["source"], src);

    // Commit order: each transaction's changes together, indexed from 0, commits ascending.
    let positions: Vec<(u64, u64)> = events.iter().map(position).collect();
    let mut transactions: Vec<(u64, u64)> = Vec::new(); // (commit LSN, changes)
    for &(lsn, index) in &positions {
        match transactions.last_mut() {
            Some((last, n)) if *last == lsn => {
                assert_eq!(index, *n, "indexes in a transaction count up from 0");
                *n += 1;
            }
            _ => {
                assert!(transactions.last().is_none_or(|(last, _)| *last < lsn), "commit LSNs ascend");
                assert_eq!(index, 0);
                transactions.push((lsn, 1));
            }
        }
    }
    assert_eq!(transactions.iter().map(|t| t.1).collect::<Vec<_>>(), [2, 2, 10_000, 1]);
    let big = &events[4..10_004];
    assert!(big.iter().enumerate().all(|(i, e)| e["subject"].as_str() == Some((i + 1).to_string().as_str())
        && e["type"] == "dev.evhost.postgres.insert"
        && e["source"] == "/postgres/evhost/public/big"
        && e["time"] == big[0]["time"]));

    // Changes to a table outside the publication move the server on; heartbeats carry the
    // slot along, so the server can recycle its WAL.
    pg.sql("INSERT INTO unwatched SELECT generate_series(1, 1000)");
    let (_, wal) = pg.slot_and_wal("evhost");
    eventually(LIMIT, "the slot to reach the server's WAL position", || pg.slot_and_wal("evhost").0 >= wal);
    assert_eq!(env.lines_so_far("events.jsonl"), 10_005, "unwatched tables make no events");
    host.signal(Signal::SIGTERM);
    host.wait().expect_code(0);
}

/// Every row id of `table` that reached the consumer, and how many events came twice.
fn ids_seen(env: &Env) -> (BTreeMap<i64, usize>, usize) {
    let mut seen = BTreeMap::new();
    let mut by_id = BTreeMap::new();
    for event in env.json_lines("events.jsonl") {
        *by_id.entry(event["id"].as_str().unwrap().to_string()).or_insert(0usize) += 1;
        *seen.entry(event["data"]["after"]["id"].as_i64().unwrap()).or_insert(0) += 1;
    }
    let again = by_id.values().map(|n| n - 1).sum();
    (seen, again)
}

#[test]
fn a_kill_9_of_the_host_mid_stream_skips_no_change() {
    let pg = PgServer::start();
    pg.sql("CREATE TABLE t (id int PRIMARY KEY)");
    let log = "[log]\nkind = \"disk\"\npath = \"log\"\n";
    let env = env_with(&pg.url(), r#"tables = ["t"], heartbeat = "100ms""#, log);
    let mut host = env.spawn();
    host.wait_for_line("streaming slot");
    // 300 transactions of 20 rows, 5 ms apart: committed while the host runs and after it died.
    let script: String = (0..300)
        .map(|k| {
            format!("INSERT INTO t SELECT generate_series({}, {});\nSELECT pg_sleep(0.005);\n", k * 20 + 1, k * 20 + 20)
        })
        .collect();
    env.write("writes.sql", &script);
    let writer = {
        let (port, script) = (pg.port, env.path("writes.sql"));
        std::thread::spawn(move || {
            // A script file: psql sends each statement on its own, so each is a transaction.
            let out = std::process::Command::new("psql")
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "evhost", "-d", "evhost"])
                .args(["-p", &port.to_string(), "-f"])
                .arg(script)
                .env("PGPASSWORD", "evhost")
                .output()
                .expect("psql");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        })
    };
    eventually(LIMIT, "some events before the kill", || env.lines_so_far("events.jsonl") >= 200);
    host.signal(Signal::SIGKILL);
    let _ = host.wait();
    let before = env.lines_so_far("events.jsonl");
    writer.join().expect("the writer");
    let mut host = env.spawn();
    host.wait_for_line("streaming slot");
    eventually(LIMIT, "all 6000 rows after the restart", || ids_seen(&env).0.len() >= 6000);
    host.signal(Signal::SIGTERM);
    host.wait().expect_code(0);
    let (seen, again) = ids_seen(&env);
    assert_eq!(seen.keys().copied().collect::<Vec<_>>(), (1..=6000).collect::<Vec<_>>());
    assert!(before < 6000, "the kill came after the last change ({before} events): it tested nothing");
    println!("killed after {before} events; {again} events came twice (the same id), none was skipped");
}

#[test]
fn a_restart_of_postgres_under_a_running_host_loses_nothing() {
    let pg = PgServer::start();
    pg.sql("CREATE TABLE t (id int PRIMARY KEY)");
    let env = env_with(&pg.url(), r#"tables = ["t"]"#, "");
    let mut host = env.spawn();
    host.wait_for_line("streaming slot");
    pg.sql("INSERT INTO t SELECT generate_series(1, 100)");
    // Committed, and perhaps not yet sent, when the server goes down.
    pg.sql("INSERT INTO t SELECT generate_series(101, 200)");
    pg.stop();
    pg.start_again();
    host.wait_for_line("replication stream from");
    host.wait_for_line("streaming slot");
    pg.sql("INSERT INTO t SELECT generate_series(201, 300)");
    eventually(LIMIT, "all 300 rows", || ids_seen(&env).0.len() >= 300);
    host.signal(Signal::SIGTERM);
    host.wait().expect_code(0);
    let (seen, _) = ids_seen(&env);
    assert_eq!(seen.keys().copied().collect::<Vec<_>>(), (1..=300).collect::<Vec<_>>());
}

#[test]
fn a_notify_reaches_a_consumer() {
    let pg = PgServer::start();
    let env = env_with(&pg.url(), r#"mode = "listen", channels = ["orders"]"#, "");
    let mut host = env.spawn();
    host.wait_for_line("listening on orders");
    pg.sql("NOTIFY orders, 'order 7 paid'; NOTIFY elsewhere, 'not for us'");
    eventually(LIMIT, "the notification", || env.lines_so_far("events.jsonl") >= 1);
    host.signal(Signal::SIGTERM);
    host.wait().expect_code(0);
    let events = env.json_lines("events.jsonl");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "dev.evhost.postgres.notification");
    assert_eq!(events[0]["source"], "/postgres/evhost");
    assert_eq!(events[0]["subject"], "orders");
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD.decode(events[0]["data_base64"].as_str().expect("text data"));
    assert_eq!(data.expect("base64"), b"order 7 paid");
    assert_eq!(events[0]["datacontenttype"], "text/plain");
}

#[test]
fn config_errors_are_clear_through_check() {
    let pg = PgServer::start();
    pg.sql("CREATE TABLE t (id int PRIMARY KEY)");
    let check = |url: &str, config: &str, extra: &[(&str, &str)]| {
        let env = env_with(url, config, "");
        let mut text = env.check_fails().replace(&pg.port.to_string(), "[PORT]");
        for (from, to) in extra {
            text = text.replace(from, to);
        }
        text
    };
    let free = free_port().to_string();
    let nobody = format!("postgres://evhost:evhost@127.0.0.1:{free}/evhost");
    insta::assert_snapshot!("postgres_unreachable", check(&nobody, "", &[(&free, "[FREE]")]));
    let wrong = pg.url().replace("evhost:evhost@", "evhost:wrong@");
    insta::assert_snapshot!("postgres_wrong_password", check(&wrong, "", &[]));
    insta::assert_snapshot!("postgres_no_publication", check(&pg.url(), r#"publication = "orders""#, &[]));
    insta::assert_snapshot!("postgres_no_table", check(&pg.url(), r#"tables = ["nope"]"#, &[]));
    insta::assert_snapshot!("postgres_listen_without_channels", check(&pg.url(), r#"mode = "listen""#, &[]));

    // A slot another host streams from.
    let env = env_with(&pg.url(), r#"tables = ["t"], slot = "shared""#, "");
    let mut host = env.spawn();
    host.wait_for_line("streaming slot");
    let pid = pg.sql("SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'shared'");
    insta::assert_snapshot!(
        "postgres_slot_in_use",
        check(&pg.url(), r#"tables = ["t"], slot = "shared""#, &[(&pid, "[PID]")])
    );
    host.signal(Signal::SIGTERM);
    host.wait().expect_code(0);
}
