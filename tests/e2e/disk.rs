//! What the tests of the durable disk log share: the `recorder` consumer (a C fixture that
//! writes what it was given, id and sequence number, so a test can tell lost events from
//! duplicates and see the numbering), a tiny HTTP/1.1 client whose only job is to learn
//! whether an event was acknowledged, and readers for the log's folder and log lines.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::fixture::c_plugin;
use crate::support::{log_fields, Env};

/// The `http` producer and `file` consumer libraries.
pub const HTTP: &str = "libevh_http.so";
pub const FILE: &str = "libevh_file.so";

/// The `[log]` table of a disk log in `evlog/` beside the config, with `extra` keys.
pub fn disk_log(extra: Value) -> Value {
    let mut log = json!({ "kind": "disk", "path": "evlog" });
    if let (Value::Object(log), Value::Object(extra)) = (&mut log, extra) {
        log.extend(extra);
    }
    log
}

/// Compiles `librecorder.so` into `env`'s folder: consumer `recorder` appends one line
/// `<id> <seq>` per event to `<instance name>.ids`, one write(2) per batch. Its config may
/// say `"sleep_ms": N` (a slow consumer: N ms per batch) and `"hold": true` (it handles
/// nothing until the file `<instance name>.go` exists, checking every 20 ms: a blocked
/// consumer a test releases, or one that never acknowledges if the file never comes).
/// A line torn by a kill is closed with a newline when the file is opened again, so that
/// the next line starts on a line of its own.
pub fn recorder(env: &Env) -> PathBuf {
    let code = r#"
typedef struct recorder { int fd; long sleep; int hold; char go[4096]; } recorder;
static long number_after(evh_str json, const char *key) {
    char text[1024];
    size_t len = json.len < sizeof text - 1 ? json.len : sizeof text - 1;
    memcpy(text, json.ptr, len);
    text[len] = 0;
    const char *at = strstr(text, key);
    return at ? strtol(at + strlen(key), NULL, 10) : 0;
}
static evh_status create(const evh_create_args *args, void **self) {
    recorder *r = calloc(1, sizeof *r);
    if (r == NULL) return EVH_ERR_INTERNAL;
    char path[4096];
    int dir = (int)args->config_dir.len, name = (int)args->instance_name.len;
    const char *d = (const char *)args->config_dir.ptr, *n = (const char *)args->instance_name.ptr;
    snprintf(path, sizeof path, "%.*s/%.*s.ids", dir, d, name, n);
    snprintf(r->go, sizeof r->go, "%.*s/%.*s.go", dir, d, name, n);
    r->fd = open(path, O_RDWR | O_APPEND | O_CREAT, 0644);
    if (r->fd < 0) { free(r); return EVH_ERR_INTERNAL; }
    off_t end = lseek(r->fd, 0, SEEK_END);
    char last = '\n';
    if (end > 0 && pread(r->fd, &last, 1, end - 1) == 1 && last != '\n') {
        if (write(r->fd, "\n", 1) != 1) { close(r->fd); free(r); return EVH_ERR_INTERNAL; }
    }
    r->sleep = number_after(args->config_json, "\"sleep_ms\":");
    char text[1024];
    size_t len = args->config_json.len < sizeof text - 1 ? args->config_json.len : sizeof text - 1;
    memcpy(text, args->config_json.ptr, len);
    text[len] = 0;
    r->hold = strstr(text, "\"hold\":true") != NULL;
    *self = r;
    return EVH_OK;
}
static void destroy(void *self) { recorder *r = self; close(r->fd); free(r); }
static evh_status events(void *self, const evh_event *const *e, size_t n, size_t *handled) {
    recorder *r = self;
    while (r->hold && access(r->go, F_OK) != 0) sleep_ms(20);
    if (r->sleep > 0) sleep_ms(r->sleep);
    size_t cap = 64, len = 0;
    for (size_t i = 0; i < n; i++) cap += e[i]->id.len + 24;
    char *buf = malloc(cap);
    if (buf == NULL) return EVH_RETRY;
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%.*s %llu\n", (int)e[i]->id.len, (const char *)e[i]->id.ptr, (unsigned long long)e[i]->seq);
    ssize_t done = write(r->fd, buf, len);
    free(buf);
    if (done != (ssize_t)len) return EVH_RETRY;
    *handled = n;
    return EVH_OK;
}
"#;
    env.compile_library(
        "librecorder.so",
        &c_plugin(
            "EVH_KIND_CONSUMER",
            "recorder",
            &[("on_create", "create"), ("on_destroy", "destroy"), ("on_events", "events")],
            code,
        ),
    )
}

/// What a `recorder` instance wrote: `(id, seq)` per whole line, in order.
pub fn recorded(env: &Env, instance: &str) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(env.path(&format!("{instance}.ids"))).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let (id, seq) = line.split_once(' ')?;
            Some((id.to_string(), seq.parse().ok()?))
        })
        .collect()
}

/// How many times each id occurs in `ids`.
pub fn counts<'a>(ids: impl IntoIterator<Item = &'a str>) -> HashMap<&'a str, usize> {
    let mut counts = HashMap::new();
    for id in ids {
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

/// The lines of the `file` consumer's `events.jsonl`, each checked to be a whole CloudEvent
/// (panics naming the first that is not).
pub fn file_events(env: &Env) -> Vec<Value> {
    let path = env.path("events.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines()
        .enumerate()
        .map(|(n, line)| {
            let event: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("line {} of {} is not JSON ({e}): {line:?}", n + 1, path.display()));
            let whole = event["specversion"] == "1.0"
                && ["id", "source", "type"].iter().all(|key| event[key].as_str().is_some_and(|s| !s.is_empty()));
            assert!(whole, "line {} of {} is not a whole CloudEvent: {line}", n + 1, path.display());
            event
        })
        .collect()
}

/// The segment files of the log folder `dir`, in sequence order (named by their first
/// sequence number; anything else in the folder, such as the ledger, is left out).
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let stem = path.file_stem()?.to_str()?;
            let first = stem.parse().ok()?;
            path.is_file().then_some((first, path))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, path)| path).collect()
}

/// The stderr lines that contain `needle`.
pub fn lines_with<'a>(stderr: &'a str, needle: &str) -> Vec<&'a str> {
    stderr.lines().filter(|line| line.contains(needle)).collect()
}

/// A log line from its level on (`WARN ...`), without the time, for a snapshot.
pub fn message(line: &str) -> &str {
    ["ERROR", "WARN", "INFO"].iter().find_map(|level| line.find(level).map(|at| &line[at..])).unwrap_or(line)
}

/// The number field `key` of a tracing line (`key=value`).
pub fn number(line: &str, key: &str) -> u64 {
    let value =
        log_fields(line).into_iter().find(|(k, _)| k == key).unwrap_or_else(|| panic!("no {key}= in {line:?}")).1;
    value.trim_matches('"').parse().unwrap_or_else(|_| panic!("{key}={value} is not a number in {line:?}"))
}

/// The `first` and `last` sequence numbers of the host's "disk log recovered" line.
pub fn recovered(stderr: &str) -> (u64, u64) {
    let line = *lines_with(stderr, "disk log recovered")
        .first()
        .unwrap_or_else(|| panic!("no \"disk log recovered\" line; stderr:\n{stderr}"));
    (number(line, "first"), number(line, "last"))
}

/// One structured-mode event with id `id`, as JSON text.
pub fn event(id: &str) -> String {
    json!({ "specversion": "1.0", "id": id, "source": "/disk-tests", "type": "dev.evhost.test", "data": { "id": id } })
        .to_string()
}

/// POSTs `body` (of `content_type`) to `addr` on a connection of its own and returns the
/// status; an error when the host is not there, dies before it answers or does not answer
/// `within` (the event may or may not have been taken: the caller sends it again, with the
/// same id).
pub fn post(addr: SocketAddr, content_type: &str, body: &str, within: Duration) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(within))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    let text = String::from_utf8_lossy(&reply);
    let status = text.strip_prefix("HTTP/1.1 ").and_then(|rest| rest.get(..3)).and_then(|code| code.parse().ok());
    status.ok_or_else(|| std::io::Error::other(format!("no HTTP status in {text:?}")))
}
