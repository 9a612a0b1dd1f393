//! ABI 1.1 commit notifications through the real host, from a C producer compiled at test
//! time against include/evhost.h: `emit_tracked`'s tickets, `committed`, `wait_committed`,
//! `EVH_EMIT_COMMIT` and the `on_committed` hook, on the memory and the disk log, in process and
//! isolated (`isolate = true`: the hook is called in the worker).

use crate::fixture::{c_library, Plugin};
use crate::support::Env;

/// Producer `tracked` tries every 1.1 entry and logs what it got; `bad_ticket` waits for a
/// ticket nobody was given and fails with the host's message. Consumer `sink` takes all.
const CODE: &str = r#"#include <stdarg.h>
#include <stdatomic.h>
typedef struct tracked {
    evh_host *host;
    const evh_host_api *api;
    pthread_t runner;
    _Atomic uint64_t notified;
    atomic_int on_runner, backwards;
    char ids[10][24];
    evh_event events[10];
} tracked;
static void note(tracked *t, const char *format, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(line, sizeof line, format, ap);
    va_end(ap);
    t->api->log(t->host, EVH_LOG_INFO, (evh_str){(const uint8_t *)line, (size_t)n});
}
static const char *name(tracked *t, evh_status s)
{
    static _Thread_local char buffer[64];
    evh_str view = t->api->status_name(s);
    snprintf(buffer, sizeof buffer, "%.*s", (int)view.len, (const char *)view.ptr);
    return buffer;
}
static evh_event *batch(tracked *t, size_t n, uint64_t first)
{
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(t->ids[i], sizeof t->ids[i], "%llu", (unsigned long long)(first + i));
        t->events[i] = (evh_event){ .struct_size = sizeof(evh_event), .id = {(const uint8_t *)t->ids[i], (size_t)len},
                                    .source = STR("/commits"), .type = STR("dev.evhost.test.commit") };
    }
    return t->events;
}
static evh_status tracked_create(const evh_create_args *args, void **out)
{
    tracked *t = calloc(1, sizeof *t);
    if (t == NULL) return EVH_ERR_INTERNAL;
    t->host = args->host;
    t->api = args->api;
    if (t->api->struct_size < sizeof(evh_host_api) || t->api->abi_minor < 1) return EVH_ERR_VERSION;
    *out = t;
    return EVH_OK;
}
static void tracked_destroy(void *instance) { free(instance); }
static void tracked_committed(void *instance, uint64_t committed)
{
    tracked *t = instance;
    if (pthread_equal(pthread_self(), t->runner)) atomic_store(&t->on_runner, 1);
    if (committed <= atomic_load(&t->notified)) atomic_store(&t->backwards, 1);
    atomic_store(&t->notified, committed);
}
static evh_status tracked_run(void *instance)
{
    tracked *t = instance;
    t->runner = pthread_self();
    uint64_t ticket = 0;
    evh_status s = t->api->emit_tracked(t->host, batch(t, 10, 1), 10, EVH_EMIT_BLOCK, &ticket);
    note(t, "emit_tracked: %s, ticket %llu", name(t, s), (unsigned long long)ticket);
    note(t, "wait_committed: %s", name(t, t->api->wait_committed(t->host, ticket, EVH_WAIT_FOREVER)));
    note(t, "committed >= ticket: %d", t->api->committed(t->host) >= ticket);
    note(t, "wait_committed with timeout 0: %s", name(t, t->api->wait_committed(t->host, ticket, 0)));
    s = t->api->emit(t->host, batch(t, 5, 11), 5, EVH_EMIT_BLOCK | EVH_EMIT_COMMIT);
    note(t, "emit with EVH_EMIT_COMMIT: %s, committed %llu", name(t, s), (unsigned long long)t->api->committed(t->host));
    uint64_t empty = 99;
    s = t->api->emit_tracked(t->host, t->events, 0, EVH_EMIT_NONBLOCK, &empty);
    note(t, "empty batch: %s, ticket %llu", name(t, s), (unsigned long long)empty);
    s = t->api->emit_tracked(t->host, batch(t, 10, 16), 10, EVH_EMIT_NONBLOCK | EVH_EMIT_COMMIT, &ticket);
    note(t, "emit_tracked with EVH_EMIT_COMMIT: %s, ticket %llu", name(t, s), (unsigned long long)ticket);
    for (int i = 0; i < 1000 && atomic_load(&t->notified) < ticket; i++) sleep_ms(5);
    note(t, "on_committed reached %llu; on the producer's thread: %d; went backwards: %d",
         (unsigned long long)atomic_load(&t->notified), atomic_load(&t->on_runner), atomic_load(&t->backwards));
    return EVH_OK;
}
static evh_status bad_ticket_run(void *instance)
{
    tracked *t = instance;
    return t->api->wait_committed(t->host, 1000000, EVH_WAIT_FOREVER);
}
static evh_status sink_create(const evh_create_args *args, void **out) { (void)args; *out = NULL; return EVH_OK; }
static evh_status sink_events(void *instance, const evh_event *const *events, size_t n, size_t *handled)
{
    (void)instance; (void)events; *handled = n; return EVH_OK;
}
"#;

fn library(env: &Env) -> String {
    let plugins = [
        Plugin {
            kind: "EVH_KIND_PRODUCER",
            name: "tracked",
            hooks: &[
                ("on_create", "tracked_create"),
                ("on_destroy", "tracked_destroy"),
                ("on_run", "tracked_run"),
                ("on_committed", "tracked_committed"),
            ],
        },
        Plugin {
            kind: "EVH_KIND_PRODUCER",
            name: "bad_ticket",
            hooks: &[("on_create", "tracked_create"), ("on_destroy", "tracked_destroy"), ("on_run", "bad_ticket_run")],
        },
        Plugin {
            kind: "EVH_KIND_CONSUMER",
            name: "sink",
            hooks: &[("on_create", "sink_create"), ("on_events", "sink_events")],
        },
    ];
    env.compile_library("libcommits.so", &c_library(CODE, &plugins)).display().to_string()
}

fn config(env: &Env, top: &str, producer: &str) {
    config_with(env, top, producer, "");
}

/// [`config`] with more keys for the producer's entry (`isolate = true`).
fn config_with(env: &Env, top: &str, producer: &str, extra: &str) {
    let library = library(env);
    env.config(&format!(
        "{top}\n\n[[producer]]\nname = \"p\"\nlibrary = \"{library}\"\nplugin = \"{producer}\"\n{extra}\n\
         [[consumer]]\nname = \"sink\"\nlibrary = \"{library}\"\nplugin = \"sink\"\n"
    ));
}

/// The tracked producer on the log `top` configures: tickets are the batches' last
/// sequence numbers (a fresh log starts at 1), and each wait ends once the batch is
/// committed (at once on the memory log; after the writer's fsync on the disk log).
fn tracked_on(top: &str) {
    tracked_with(top, "");
}

/// [`tracked_on`], the producer's entry with more keys (`isolate = true`).
fn tracked_with(top: &str, extra: &str) {
    let env = Env::new();
    config_with(&env, top, "tracked", extra);
    let out = env.run();
    out.expect_code(0);
    for line in [
        "emit_tracked: EVH_OK, ticket 10",
        "wait_committed: EVH_OK",
        "committed >= ticket: 1",
        "wait_committed with timeout 0: EVH_OK",
        "emit with EVH_EMIT_COMMIT: EVH_OK, committed 15",
        "empty batch: EVH_OK, ticket 15",
        "emit_tracked with EVH_EMIT_COMMIT: EVH_OK, ticket 25",
        "on_committed reached 25; on the producer's thread: 0; went backwards: 0",
    ] {
        assert!(out.stderr.contains(line), "no {line:?} in:\n{}", out.stderr);
    }
    assert!(out.stderr.contains("delivered=25"), "the sink got every event:\n{}", out.stderr);
}

#[test]
fn a_c_producer_learns_when_its_events_are_committed() {
    tracked_on("");
}

#[test]
fn a_c_producer_learns_when_its_events_are_committed_on_the_disk_log() {
    tracked_on("[log]\nkind = \"disk\"\npath = \"evlog\"");
}

#[test]
fn an_isolated_producer_learns_when_its_events_are_committed() {
    tracked_with("", "isolate = true");
}

#[test]
fn an_isolated_producer_learns_when_its_events_are_committed_on_the_disk_log() {
    tracked_with("[log]\nkind = \"disk\"\npath = \"evlog\"", "isolate = true");
}

#[test]
fn waiting_for_a_ticket_never_handed_out_is_refused() {
    let env = Env::new();
    config(&env, "", "bad_ticket");
    let out = env.run();
    out.expect_code(1);
    let line =
        out.stderr.lines().find(|l| l.contains("failed: wait_committed")).unwrap_or_else(|| panic!("{}", out.stderr));
    let message = &line[line.find("producer \"p\"").expect("the producer's name")..];
    insta::assert_snapshot!("bad_ticket", message);
}

/// Every file under `dir`, read whole and joined (the disk log's segments and ledger).
fn everything_under(dir: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            bytes.extend(everything_under(&path));
        } else {
            bytes.extend(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())));
        }
    }
    bytes
}

#[test]
fn http_on_the_disk_log_answers_202_once_the_events_are_on_disk() {
    let host = crate::http::start("[log]\nkind = \"disk\"\npath = \"evlog\"", "", "");
    // Several clients at once: their requests wait for commits together on the plugin's
    // one thread, woken by on_committed after each group commit.
    let (base, evlog) = (host.base.as_str(), host.env.path("evlog"));
    let ids: Vec<String> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..4)
            .map(|client| {
                let evlog = &evlog;
                scope.spawn(move || {
                    // A bound on each answer: a commit that never wakes the request fails the test.
                    let agent = ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(10)).build();
                    (0..10)
                        .map(|k| {
                            let id = format!("c{client}-{k}");
                            let body = format!(r#"{{"specversion":"1.0","id":"{id}","source":"/s","type":"t"}}"#);
                            let reply = agent
                                .post(&format!("{base}/"))
                                .set("Content-Type", "application/cloudevents+json")
                                .send_string(&body)
                                .unwrap_or_else(|e| panic!("{id}: {e}"));
                            assert_eq!(reply.status(), 202, "{id}");
                            // A 202 means committed: with fsync = "commit", in a segment on disk.
                            let on_disk = everything_under(evlog);
                            assert!(
                                on_disk.windows(id.len()).any(|w| w == id.as_bytes()),
                                "{id} answered 202 but is not in evlog/"
                            );
                            id
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        clients.into_iter().flat_map(|c| c.join().expect("a client")).collect()
    });
    let (_, lines) = host.stop();
    let mut written: Vec<&str> = lines.iter().map(|line| line["id"].as_str().expect("an id")).collect();
    written.sort_unstable();
    let mut sent: Vec<&str> = ids.iter().map(String::as_str).collect();
    sent.sort_unstable();
    assert_eq!(written, sent, "the file consumer wrote every acknowledged event once");
}
