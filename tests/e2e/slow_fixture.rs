//! The fixture of the fault tests that need a slow consumer or a hook that never returns
//! outside `on_events`: compiled at test time into the test's folder as `libslow.so`.
//!
//! - consumer `slow`: appends the id of every event it is given to `<name>.ids` (one write
//!   per batch) and its process id to `<name>.pids` on every `on_create`, where `name` is
//!   its config key; sleeps `sleep_ms` per batch; with `hang_stop = true` sleeps for ever in
//!   `on_stop`.
//! - producer `starter` (`on_start`/`on_stop`, no `on_run`, no threads): appends its pid to
//!   `<name>.pids`, and a line to `<name>.started` when `on_start` begins; with `hang_start` or `hang_stop` sleeps for ever in that hook.
//! - producer `segv` (`on_run`): in the first process that runs it (it creates
//!   `<name>.emitted` first), emits `count` events with EVH_EMIT_COMMIT, ids "0".."count-1",
//!   ten per emit, appending each batch's ids to `<name>.committed` once its emit returned,
//!   then dereferences NULL; in every later process it dereferences NULL at once, before
//!   emitting anything: a producer that never gets back on its feet.
//! - producer `linger` (`on_run`): appends a line to `<name>.started` when `on_run` begins,
//!   waits for `on_stop`, then takes `sleep_ms` more to return (a final flush).
//! - producer `stubborn` (`on_run`, no `on_stop`): emits `count` events, ids "0".."count-1",
//!   ten per emit, then sleeps for ever: a producer that ignores the host's stop.

use crate::fixture::{c_library, Plugin};
use crate::support::Env;

/// The fixture library's file name in a test's folder.
pub const SLOW: &str = "libslow.so";

const CODE: &str = r#"
#include <stdbool.h>
typedef struct slow {
    char ids[4096], committed[4096], marker[4096], started[4096];
    uint64_t sleep_ms, count;
    bool hang_start, hang_stop;
    _Atomic bool stopped;
    evh_host *host;
    const evh_host_api *api;
} slow;

/* `<config_dir>/<name><suffix>` into `out`. */
static evh_status file_of(const evh_create_args *a, const char *suffix, char *out)
{
    evh_str name = { NULL, 0 };
    evh_status s = a->api->config_string(a, "name", EVH_CONFIG_REQUIRED, &name);
    if (s != EVH_OK) return s;
    snprintf(out, 4096, "%.*s/%.*s%s", (int)a->config_dir.len, (const char *)a->config_dir.ptr, (int)name.len,
             (const char *)name.ptr, suffix);
    return EVH_OK;
}

static void append(const char *path, const char *text, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len) abort();
    close(fd);
}

static evh_status slow_create(const evh_create_args *a, void **out)
{
    static const char *const keys[] = { "name", "sleep_ms", "hang_start", "hang_stop", "count" };
    char pids[4096], line[32];
    evh_status s;
    slow *c = calloc(1, sizeof *c);
    if (c == NULL) return EVH_ERR_INTERNAL;
    if ((s = a->api->config_keys(a, "", keys, 5)) != EVH_OK || (s = file_of(a, ".ids", c->ids)) != EVH_OK ||
        (s = file_of(a, ".pids", pids)) != EVH_OK || (s = file_of(a, ".committed", c->committed)) != EVH_OK ||
        (s = file_of(a, ".emitted", c->marker)) != EVH_OK || (s = file_of(a, ".started", c->started)) != EVH_OK ||
        (s = a->api->config_uint(a, "count", EVH_CONFIG_OPTIONAL, &c->count)) != EVH_OK ||
        (s = a->api->config_uint(a, "sleep_ms", EVH_CONFIG_OPTIONAL, &c->sleep_ms)) != EVH_OK ||
        (s = a->api->config_bool(a, "hang_start", EVH_CONFIG_OPTIONAL, &c->hang_start)) != EVH_OK ||
        (s = a->api->config_bool(a, "hang_stop", EVH_CONFIG_OPTIONAL, &c->hang_stop)) != EVH_OK) {
        free(c);
        return s;
    }
    append(pids, line, (size_t)snprintf(line, sizeof line, "%ld\n", (long)getpid()));
    c->host = a->host;
    c->api = a->api;
    *out = c;
    return EVH_OK;
}

static void slow_destroy(void *instance) { free(instance); }

static evh_status slow_events(void *instance, const evh_event *const *events, size_t n, size_t *handled)
{
    slow *c = instance;
    char *text = malloc(n * 33 + 1);
    size_t len = 0;
    if (text == NULL) return EVH_RETRY;
    if (c->sleep_ms > 0) sleep_ms((long)c->sleep_ms);
    for (size_t i = 0; i < n; i++) {
        if (events[i]->id.len > 32) { free(text); return EVH_FAIL; }
        memcpy(text + len, events[i]->id.ptr, events[i]->id.len);
        len += events[i]->id.len;
        text[len++] = '\n';
    }
    append(c->ids, text, len);
    free(text);
    *handled = n;
    return EVH_OK;
}

static evh_status starter_start(void *instance)
{
    slow *c = instance;
    append(c->started, "on_start\n", 9);
    if (c->hang_start) forever();
    return EVH_OK;
}

static evh_status segv_run(void *instance)
{
    slow *c = instance;
    evh_event events[10];
    char ids[10][24], lines[10 * 25];
    int fd = open(c->marker, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
        close(fd);
        for (uint64_t k = 0; k < c->count; k += 10) {
            size_t n = 0, len = 0;
            for (; n < 10 && k + n < c->count; n++) {
                int id_len = snprintf(ids[n], sizeof ids[n], "%llu", (unsigned long long)(k + n));
                events[n] = (evh_event){ .struct_size = sizeof(evh_event), .source = STR("/segv"), .type = STR("t") };
                events[n].id = (evh_str){ (const uint8_t *)ids[n], (size_t)id_len };
                len += (size_t)snprintf(lines + len, sizeof lines - len, "%s\n", ids[n]);
            }
            if (c->api->emit(c->host, events, n, EVH_EMIT_BLOCK | EVH_EMIT_COMMIT) != EVH_OK) abort();
            append(c->committed, lines, len);
        }
    }
    volatile int *nowhere = NULL;
    *nowhere = 1;
    return EVH_OK;
}

static evh_status stubborn_run(void *instance)
{
    slow *c = instance;
    evh_event events[10];
    char ids[10][24];
    for (uint64_t k = 0; k < c->count; k += 10) {
        size_t n = 0;
        for (; n < 10 && k + n < c->count; n++) {
            int id_len = snprintf(ids[n], sizeof ids[n], "%llu", (unsigned long long)(k + n));
            events[n] = (evh_event){ .struct_size = sizeof(evh_event), .source = STR("/stubborn"), .type = STR("t") };
            events[n].id = (evh_str){ (const uint8_t *)ids[n], (size_t)id_len };
        }
        if (c->api->emit(c->host, events, n, EVH_EMIT_BLOCK) != EVH_OK) abort();
    }
    forever();
    return EVH_OK;
}

static void slow_stop(void *instance)
{
    slow *c = instance;
    c->stopped = true;
    if (c->hang_stop) forever();
}

static evh_status linger_run(void *instance)
{
    slow *c = instance;
    append(c->started, "on_run\n", 7);
    while (!c->stopped) sleep_ms(5);
    sleep_ms((long)c->sleep_ms);
    return EVH_OK;
}
"#;

/// Compiles the fixture into `env`'s folder.
pub fn slow_library(env: &Env) {
    let plugins = [
        Plugin {
            kind: "EVH_KIND_CONSUMER",
            name: "slow",
            hooks: &[
                ("on_create", "slow_create"),
                ("on_destroy", "slow_destroy"),
                ("on_events", "slow_events"),
                ("on_stop", "slow_stop"),
            ],
        },
        Plugin {
            kind: "EVH_KIND_PRODUCER",
            name: "starter",
            hooks: &[
                ("on_create", "slow_create"),
                ("on_destroy", "slow_destroy"),
                ("on_start", "starter_start"),
                ("on_stop", "slow_stop"),
            ],
        },
        Plugin {
            kind: "EVH_KIND_PRODUCER",
            name: "segv",
            hooks: &[("on_create", "slow_create"), ("on_destroy", "slow_destroy"), ("on_run", "segv_run")],
        },
        Plugin {
            kind: "EVH_KIND_PRODUCER",
            name: "linger",
            hooks: &[
                ("on_create", "slow_create"),
                ("on_destroy", "slow_destroy"),
                ("on_run", "linger_run"),
                ("on_stop", "slow_stop"),
            ],
        },
        Plugin {
            kind: "EVH_KIND_PRODUCER",
            name: "stubborn",
            hooks: &[("on_create", "slow_create"), ("on_destroy", "slow_destroy"), ("on_run", "stubborn_run")],
        },
    ];
    env.compile_library(SLOW, &c_library(CODE, &plugins));
}
