//! What the README promises about a crash of the memory log: kill -9 loses at most what the
//! log holds, its capacity. The `http` producer has answered 202 for every event it handed
//! over; after a SIGKILL the test counts, for the `file` consumer and for a slow consumer
//! that keeps the log full, the acknowledged events each never wrote.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::json;

use crate::fixture::c_plugin;
use crate::http::start;
use crate::support::Env;

const CAPACITY: usize = 64;

#[test]
fn kill_9_loses_at_most_the_log_s_capacity() {
    let slow = slow_writer();
    let host = start(
        &format!("[log]\ncapacity = {CAPACITY}"),
        "",
        &format!("[[consumer]]\nname = \"slow\"\nlibrary = \"{}\"\nbatch = 1\n", slow.path("libslow.so").display()),
    );
    let mut acknowledged = Vec::new();
    let started = Instant::now();
    for k in 0.. {
        if acknowledged.len() >= 4 * CAPACITY || started.elapsed() > Duration::from_secs(5) {
            break;
        }
        let id = format!("crash-{k}");
        let event = json!({"specversion": "1.0", "id": id, "source": "/crash", "type": "t"});
        let reply = host.post("/", "application/cloudevents+json", event.to_string().as_bytes());
        match reply.status {
            202 => acknowledged.push(id),
            503 => std::thread::sleep(Duration::from_millis(5)),
            other => panic!("unexpected {other}: {reply:?}"),
        }
    }
    assert!(acknowledged.len() > CAPACITY, "only {} events were acknowledged", acknowledged.len());
    host.running.signal(Signal::SIGKILL);
    let out = host.running.wait();
    assert_eq!(out.status.code(), None, "killed by a signal: {}", out.stderr);
    for (consumer, file) in [("file", host.env.path("events.jsonl")), ("slow", host.env.path("slow.ids"))] {
        let written = std::fs::read_to_string(&file).unwrap_or_default();
        // A line cut short by the kill is an event not written.
        let ids: HashSet<String> = written
            .lines()
            .map(|line| match serde_json::from_str::<serde_json::Value>(line) {
                Ok(event) => event["id"].as_str().unwrap_or_default().to_string(),
                Err(_) => line.to_string(),
            })
            .collect();
        let lost = acknowledged.iter().filter(|id| !ids.contains(*id)).count();
        println!("{consumer}: {} acknowledged, {lost} lost to kill -9 (capacity {CAPACITY})", acknowledged.len());
        assert!(lost <= CAPACITY, "{consumer}: {lost} acknowledged events lost, more than the capacity of {CAPACITY}");
    }
}

/// A consumer that appends each event's id to `slow.ids` in the config's folder, a line at
/// a time, and takes 20 ms per batch; built in a folder of its own.
fn slow_writer() -> Env {
    let env = Env::new();
    let code = r#"
static FILE *out;
static evh_status create(const evh_create_args *args, void **self) {
    char path[4096];
    snprintf(path, sizeof path, "%.*s/slow.ids", (int)args->config_dir.len, (const char *)args->config_dir.ptr);
    out = fopen(path, "a");
    *self = NULL;
    return out ? EVH_OK : EVH_ERR_INTERNAL;
}
static evh_status events(void *self, const evh_event *const *e, size_t n, size_t *handled) {
    (void)self;
    sleep_ms(20);
    for (size_t i = 0; i < n; i++) fprintf(out, "%.*s\n", (int)e[i]->id.len, (const char *)e[i]->id.ptr);
    fflush(out);
    *handled = n;
    return EVH_OK;
}
"#;
    env.compile_library(
        "libslow.so",
        &c_plugin("EVH_KIND_CONSUMER", "slow", &[("on_create", "create"), ("on_events", "events")], code),
    );
    env
}
