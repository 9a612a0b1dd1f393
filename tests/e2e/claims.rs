//! ABI 1.2 claim and publish through the real host, from a C producer compiled at test
//! time against include/evhost.h: events written in place reach consumers as written;
//! publish refuses what emit refuses, with the same words; abandon, a claim larger than
//! the log, too many open claims, publish from another thread, and the disk log.

use crate::fixture::{c_library, Plugin};
use crate::support::Env;

/// Producer `good` publishes 3 events written in place (one with an extension) and tries
/// the claim's misuses; `refusals` publishes bad events and emits the same ones, so that
/// both refusals can be compared; `threads` claims on its thread and publishes from
/// another. Each logs what it got. Consumer `sink` logs every event it receives.
const CODE: &str = r#"#include <stdarg.h>
#include <stdalign.h>
typedef struct producer { evh_host *host; const evh_host_api *api; } producer;
static void note(producer *p, const char *format, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, format);
    int n = vsnprintf(line, sizeof line, format, ap);
    va_end(ap);
    p->api->log(p->host, EVH_LOG_INFO, (evh_str){(const uint8_t *)line, (size_t)n});
}
static const char *name(producer *p, evh_status s)
{
    /* Two names may be in one note: each call has a buffer of its own, in turn. */
    static _Thread_local char buffers[2][64];
    static _Thread_local int turn;
    char *buffer = buffers[turn ^= 1];
    evh_str view = p->api->status_name(s);
    snprintf(buffer, 64, "%.*s", (int)view.len, (const char *)view.ptr);
    return buffer;
}
static evh_status create(const evh_create_args *args, void **out)
{
    producer *p = calloc(1, sizeof *p);
    if (p == NULL) return EVH_ERR_INTERNAL;
    p->host = args->host;
    p->api = args->api;
    if (p->api->struct_size < sizeof(evh_host_api) || p->api->abi_minor < 2) return EVH_ERR_VERSION;
    *out = p;
    return EVH_OK;
}
static void destroy(void *instance) { free(instance); }
/* Copies text into the claim's bytes at *at and returns its view there. */
static evh_str put(uint8_t **at, const char *text, size_t len)
{
    memcpy(*at, text, len);
    evh_str view = {*at, len};
    *at += len;
    return view;
}
#define PUT(at, s) put(at, s, sizeof(s) - 1)
/* A claimed event with id, source and type written into the claim. */
static void fill(evh_claim *c, size_t i, const char *id, uint8_t **at)
{
    c->events[i] = (evh_event){ .struct_size = sizeof(evh_event) };
    c->events[i].id = put(at, id, strlen(id));
    c->events[i].source = PUT(at, "/claims");
    c->events[i].type = PUT(at, "dev.evhost.test.claim");
}
static evh_status good_run(void *instance)
{
    producer *p = instance;
    evh_claim c;
    evh_status s = p->api->claim(p->host, 4, 1024, 0, &c);
    note(p, "claim: %s, room for %zu events and %zu bytes, aligned: %d", name(p, s), c.events_len, c.bytes_len,
         (int)((uintptr_t)c.bytes % 16 == 0));
    if (s != EVH_OK) return s;
    uint8_t *at = c.bytes;
    /* The extension array first, where it is aligned. */
    evh_attr *ext = (evh_attr *)at;
    at += sizeof(evh_attr);
    for (size_t i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "c%zu", i + 1);
        fill(&c, i, id, &at);
        c.events[i].data = (evh_bytes){ at, 2 };
        at[0] = 'd';
        at[1] = (uint8_t)('1' + i);
        at += 2;
    }
    ext->key = PUT(&at, "traceid");
    ext->value = PUT(&at, "abc");
    c.events[1].extensions = ext;
    c.events[1].extensions_len = 1;
    evh_claim copy = c;
    uint64_t ticket = 0;
    s = p->api->publish(p->host, &c, 3, EVH_EMIT_BLOCK, &ticket);
    note(p, "publish 3 of 4: %s, ticket %llu, token cleared: %d", name(p, s), (unsigned long long)ticket, c.token == NULL);
    note(p, "publish again: %s", name(p, p->api->publish(p->host, &copy, 3, EVH_EMIT_BLOCK, NULL)));
    note(p, "abandon after publish: %s", name(p, p->api->abandon(p->host, &copy)));

    s = p->api->claim(p->host, 2, 64, 0, &c);
    at = c.bytes;
    fill(&c, 0, "abandoned", &at);
    s = p->api->abandon(p->host, &c);
    note(p, "abandon: %s, token cleared: %d", name(p, s), c.token == NULL);
    note(p, "abandon again: %s", name(p, p->api->abandon(p->host, &c)));

    note(p, "claim 0 events: %s", name(p, p->api->claim(p->host, 0, 64, 0, &c)));
    note(p, "claim more than the log: %s", name(p, p->api->claim(p->host, 5000, 64, 0, &c)));
    note(p, "claim more bytes than the log: %s", name(p, p->api->claim(p->host, 1, (size_t)1 << 40, 0, &c)));
    note(p, "claim into NULL: %s", name(p, p->api->claim(p->host, 1, 64, 0, NULL)));

    evh_claim open[EVH_CLAIMS_MAX];
    size_t opened = 0;
    while (opened < EVH_CLAIMS_MAX && p->api->claim(p->host, 1, 64, 0, &open[opened]) == EVH_OK) opened++;
    note(p, "open claims: %zu; one more: %s", opened, name(p, p->api->claim(p->host, 1, 64, 0, &c)));
    for (size_t i = 0; i < opened; i++) p->api->abandon(p->host, &open[i]);

    s = p->api->claim(p->host, 2, 64, 0, &c);
    at = c.bytes;
    fill(&c, 0, "c4", &at);
    note(p, "publish 0: %s", name(p, p->api->publish(p->host, &c, 0, EVH_EMIT_BLOCK, NULL)));
    note(p, "publish 3 of 2: %s", name(p, p->api->publish(p->host, &c, 3, EVH_EMIT_BLOCK, NULL)));
    note(p, "publish after those: %s", name(p, p->api->publish(p->host, &c, 1, EVH_EMIT_NONBLOCK, &ticket)));
    note(p, "ticket %llu", (unsigned long long)ticket);
    return EVH_OK;
}
/* Each refusal twice: published from a claim, then emitted from the claim's own memory (the
 * same bytes), so that the host's two messages can be compared. */
static void both(producer *p, evh_claim *c, size_t n, const char *what)
{
    evh_status emitted = p->api->emit(p->host, c->events, n, EVH_EMIT_BLOCK);
    evh_status published = p->api->publish(p->host, c, n, EVH_EMIT_BLOCK, NULL);
    note(p, "%s: emit %s, publish %s", what, name(p, emitted), name(p, published));
    p->api->abandon(p->host, c);
}
static evh_status refusals_run(void *instance)
{
    producer *p = instance;
    static alignas(8) uint8_t outside[8] = "/outside";
    evh_claim c;
    uint8_t *at;
#define BEGIN(n) do { if (p->api->claim(p->host, n, 4096, 0, &c) != EVH_OK) return EVH_ERR_INTERNAL; at = c.bytes; fill(&c, 0, "r1", &at); } while (0)
    BEGIN(1); c.events[0].source.len = 0; both(p, &c, 1, "empty source");
    BEGIN(1); c.events[0].specversion = PUT(&at, "0.3"); both(p, &c, 1, "specversion");
    BEGIN(1); c.events[0].time = PUT(&at, "yesterday"); both(p, &c, 1, "time");
    BEGIN(2); fill(&c, 1, "\xff\xfe", &at); both(p, &c, 2, "id not UTF-8");
    BEGIN(1); c.events[0].id.len = 0; both(p, &c, 1, "empty id");
    BEGIN(1); c.events[0].data = (evh_bytes){ NULL, 5 }; both(p, &c, 1, "NULL data");
    BEGIN(1); c.events[0].subject = PUT(&at, "\xc3\x28"); both(p, &c, 1, "subject not UTF-8");
    BEGIN(1); c.events[0].data = (evh_bytes){ at, 2000 }; both(p, &c, 1, "too large");
    BEGIN(1); c.events[0].struct_size = 8; both(p, &c, 1, "struct_size");
    BEGIN(1); { evh_attr *a = (evh_attr *)(c.bytes + 512); a->key = PUT(&at, "Bad"); a->value = PUT(&at, "v");
        c.events[0].extensions = a; c.events[0].extensions_len = 1; } both(p, &c, 1, "extension name");
    BEGIN(1); c.events[0].extensions_len = 2; both(p, &c, 1, "extensions NULL");
    /* Not an evh_attr array to read in place: memcpy'd there, as C allows at any address. */
    BEGIN(1); { evh_attr a = { PUT(&at, "ok"), PUT(&at, "v") }; memcpy(c.bytes + 513, &a, sizeof a);
        c.events[0].extensions = (const evh_attr *)(c.bytes + 513); c.events[0].extensions_len = 1; } both(p, &c, 1, "extensions misaligned");
    /* Rules only a claim has: emit takes these. */
    BEGIN(1); c.events[0].source = (evh_str){ outside, sizeof outside }; both(p, &c, 1, "source outside");
    BEGIN(2); fill(&c, 1, "r2", &at); c.events[1].struct_size = 0; both(p, &c, 2, "second struct_size");
    return EVH_OK;
}
typedef struct handoff { producer *p; evh_claim claim; evh_status status; } handoff;
static void *publisher(void *arg)
{
    handoff *h = arg;
    h->status = h->p->api->publish(h->p->host, &h->claim, 1, EVH_EMIT_BLOCK, NULL);
    return NULL;
}
static evh_status threads_run(void *instance)
{
    producer *p = instance;
    handoff h = { .p = p };
    if (p->api->claim(p->host, 1, 64, 0, &h.claim) != EVH_OK) return EVH_ERR_INTERNAL;
    uint8_t *at = h.claim.bytes;
    fill(&h.claim, 0, "from-another-thread", &at);
    pthread_t thread;
    if (pthread_create(&thread, NULL, publisher, &h) != 0) return EVH_ERR_INTERNAL;
    pthread_join(thread, NULL);
    note(p, "published from another thread: %s", name(p, h.status));
    return EVH_OK;
}
static evh_status sink_create(const evh_create_args *args, void **out) { *out = (void *)args->host; return EVH_OK; }
static evh_status sink_events(void *instance, const evh_event *const *events, size_t n, size_t *handled)
{
    extern const evh_host_api *sink_api;
    for (size_t i = 0; i < n; i++) {
        const evh_event *e = events[i];
        char line[512];
        int len = snprintf(line, sizeof line, "got seq=%llu id=%.*s source=%.*s data=%.*s extensions=%zu",
                           (unsigned long long)e->seq, (int)e->id.len, (const char *)e->id.ptr, (int)e->source.len,
                           (const char *)e->source.ptr, (int)e->data.len, (const char *)e->data.ptr, e->extensions_len);
        for (size_t k = 0; k < e->extensions_len && len < 400; k++) {
            len += snprintf(line + len, sizeof line - len, " %.*s=%.*s", (int)e->extensions[k].key.len,
                            (const char *)e->extensions[k].key.ptr, (int)e->extensions[k].value.len,
                            (const char *)e->extensions[k].value.ptr);
        }
        sink_api->log((evh_host *)instance, EVH_LOG_INFO, (evh_str){(const uint8_t *)line, (size_t)len});
    }
    *handled = n;
    return EVH_OK;
}
const evh_host_api *sink_api;
"#;

fn library(env: &Env) -> String {
    let producer = |name| Plugin {
        kind: "EVH_KIND_PRODUCER",
        name,
        hooks: match name {
            "good" => &[("on_create", "create"), ("on_destroy", "destroy"), ("on_run", "good_run")],
            "refusals" => &[("on_create", "create"), ("on_destroy", "destroy"), ("on_run", "refusals_run")],
            _ => &[("on_create", "create"), ("on_destroy", "destroy"), ("on_run", "threads_run")],
        },
    };
    let plugins = [
        producer("good"),
        producer("refusals"),
        producer("threads"),
        Plugin {
            kind: "EVH_KIND_CONSUMER",
            name: "sink",
            hooks: &[("on_create", "sink_create"), ("on_events", "sink_events")],
        },
    ];
    // The sink logs through the API table the library got at init.
    let source = c_library(CODE, &plugins)
        .replace("    (void)api;\n    *out = &library;", "    sink_api = api;\n    *out = &library;");
    env.compile_library("libclaims.so", &source).display().to_string()
}

/// Runs producer `producer` into `sink` with `top` on top of the config; the host's stderr.
fn run(top: &str, producer: &str) -> (Env, String) {
    run_with(top, producer, "")
}

/// [`run`], with `keys` added to the producer's entry.
fn run_with(top: &str, producer: &str, keys: &str) -> (Env, String) {
    let env = Env::new();
    let library = library(&env);
    env.config(&format!(
        "{top}\n\n[[producer]]\nname = \"p\"\nlibrary = \"{library}\"\nplugin = \"{producer}\"\n{keys}\n\
         [[consumer]]\nname = \"sink\"\nlibrary = \"{library}\"\nplugin = \"sink\"\n"
    ));
    let out = env.run();
    out.expect_code(0);
    let stderr = out.stderr.clone();
    (env, stderr)
}

fn assert_lines(stderr: &str, lines: &[&str]) {
    for line in lines {
        assert!(stderr.contains(line), "no {line:?} in:\n{stderr}");
    }
}

/// What the memory and the disk log must both show for `good`.
const GOOD: &[&str] = &[
    "claim: EVH_OK, room for 4 events and 1024 bytes, aligned: 1",
    "publish 3 of 4: EVH_OK, ticket 3, token cleared: 1",
    "publish again: EVH_ERR_INVALID_ARGUMENT",
    "abandon after publish: EVH_ERR_INVALID_ARGUMENT",
    "abandon: EVH_OK, token cleared: 1",
    "abandon again: EVH_ERR_INVALID_ARGUMENT",
    "claim 0 events: EVH_ERR_INVALID_ARGUMENT",
    "claim more than the log: EVH_ERR_TOO_LARGE",
    "claim more bytes than the log: EVH_ERR_TOO_LARGE",
    "claim into NULL: EVH_ERR_INVALID_ARGUMENT",
    "open claims: 16; one more: EVH_BUSY",
    "publish 0: EVH_ERR_INVALID_ARGUMENT",
    "publish 3 of 2: EVH_ERR_INVALID_ARGUMENT",
    "publish after those: EVH_OK",
    "ticket 4",
    "got seq=1 id=c1 source=/claims data=d1 extensions=0",
    "got seq=2 id=c2 source=/claims data=d2 extensions=1 traceid=abc",
    "got seq=3 id=c3 source=/claims data=d3 extensions=0",
    "got seq=4 id=c4 source=/claims data= extensions=0",
];

/// The host's messages for the claim's own refusals, in order.
fn claim_messages(env: &Env, stderr: &str) -> String {
    let messages: Vec<&str> = stderr
        .lines()
        .filter_map(|l| ["claim: ", "publish: ", "abandon: "].iter().find_map(|p| l.find(p).map(|at| &l[at..])))
        .filter(|m| !m.contains("EVH_"))
        .collect();
    env.redact(&messages.join("\n"))
}

#[test]
fn events_written_in_place_reach_consumers_and_misuse_is_refused() {
    let (env, stderr) = run("[log]\ncapacity = 4096", "good");
    assert_lines(&stderr, GOOD);
    assert!(!stderr.contains("got seq=5"), "an abandoned or refused claim was delivered:\n{stderr}");
    insta::assert_snapshot!("claim_misuse", claim_messages(&env, &stderr));
}

#[test]
fn the_disk_log_takes_claims_too() {
    let (_env, stderr) = run("[log]\nkind = \"disk\"\npath = \"log\"\ncapacity = 4096", "good");
    assert_lines(&stderr, GOOD);
}

#[test]
fn publish_refuses_what_emit_refuses_with_the_same_words() {
    let (env, stderr) = run("[host]\nmax_event_bytes = 1024", "refusals");
    // Emit's refusal, then publish's, each time: the same message after each call's name.
    let refused: Vec<&str> = stderr
        .lines()
        .filter_map(|l| ["emit refused: ", "publish refused: "].iter().find_map(|p| Some(&l[l.find(p)? + p.len()..])))
        .collect();
    let both = [
        "empty source",
        "specversion",
        "time",
        "id not UTF-8",
        "empty id",
        "NULL data",
        "subject not UTF-8",
        "too large",
        "struct_size",
        "extension name",
        "extensions NULL",
        "extensions misaligned",
    ];
    for what in both {
        let line = format!("{what}: emit EVH_ERR_");
        assert!(stderr.contains(&line), "no {line:?} in:\n{stderr}");
    }
    // Each refusal emit and publish share comes as a pair of equal messages.
    let (pairs, own) = refused.split_at(2 * both.len());
    for pair in pairs.chunks(2) {
        assert_eq!(pair[0], pair[1], "emit and publish worded a refusal differently");
    }
    for (what, status) in [
        ("too large", "emit EVH_ERR_TOO_LARGE, publish EVH_ERR_TOO_LARGE"),
        ("empty source", "emit EVH_ERR_INVALID_ARGUMENT, publish EVH_ERR_INVALID_ARGUMENT"),
        ("source outside", "emit EVH_OK, publish EVH_ERR_INVALID_ARGUMENT"),
        ("extensions misaligned", "emit EVH_ERR_INVALID_ARGUMENT, publish EVH_ERR_INVALID_ARGUMENT"),
        ("extension name", "emit EVH_ERR_INVALID_ARGUMENT, publish EVH_ERR_INVALID_ARGUMENT"),
        ("second struct_size", "emit EVH_OK, publish EVH_ERR_INVALID_ARGUMENT"),
    ] {
        let line = format!("{what}: {status}");
        assert!(stderr.contains(&line), "no {line:?} in:\n{stderr}");
    }
    // Nothing refused reached the consumer; the two emits of what only the claim's own rules
    // refuse did (one event and two).
    assert_eq!(stderr.matches("got seq=").count(), 3, "{stderr}");
    let shared: Vec<&str> = pairs.iter().step_by(2).copied().collect();
    insta::assert_snapshot!("publish_refusals", env.redact(&[shared, own.to_vec()].concat().join("\n")));
}

#[test]
fn a_claim_may_be_published_from_another_thread() {
    let (_env, stderr) = run("", "threads");
    assert_lines(
        &stderr,
        &["published from another thread: EVH_OK", "got seq=1 id=from-another-thread source=/claims"],
    );
}

#[test]
fn an_isolated_producer_claims_and_publishes_through_its_worker() {
    // In a worker, a claim is a chunk of the worker's, refused beyond the host log's limits
    // as in-process; publish checks it there and forwards a copy to the host.
    let (_env, stderr) = run_with("[log]\ncapacity = 4096", "good", "isolate = true");
    assert_lines(&stderr, GOOD);
    let (_env, stderr) = run_with("", "threads", "isolate = true");
    assert_lines(
        &stderr,
        &["published from another thread: EVH_OK", "got seq=1 id=from-another-thread source=/claims"],
    );
}
