/*
 * slow.c: a consumer that sleeps `sleep_ms` (default 1) per batch, for the benchmark's slow
 * consumer scenario: it holds its cursor back so that the log fills up. Like `count` it adds
 * up events and data bytes, and on_stop writes {"count": N, "bytes": B} and a newline to
 * `path`, when one is set.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <time.h>

#include "json.h"
#include "plugins.h"
#include "util.h"

typedef struct slow {
    evh_host *host;
    const evh_host_api *api;
    /* NULL when the config names no path. */
    char *path;
    struct timespec nap;
    uint64_t count;
    uint64_t bytes;
} slow;

static evh_status slow_create(const evh_create_args *args, void **instance_out)
{
    char *path = NULL;
    uint64_t sleep_ms = 1;
    const evh_ex_json_field fields[] = {
        { "sleep_ms", EVH_EX_JSON_UINT, false, "sleep_ms = 1", &sleep_ms, NULL, NULL },
        { "path", EVH_EX_JSON_STRING, false, "path = \"slow.json\"", NULL, &path, NULL },
    };
    char err[512];
    slow *s;

    if (args == NULL || args->api == NULL || instance_out == NULL) {
        return EVH_ERR_INVALID_ARGUMENT;
    }
    if (!evh_ex_json_read_object(args->config_json.ptr, args->config_json.len, fields,
                                 sizeof fields / sizeof fields[0], err, sizeof err)) {
        evh_ex_set_errorf(args->api, args->host, "slow: config: %s", err);
        return EVH_ERR_CONFIG;
    }
    if (path != NULL && path[0] == '\0') {
        free(path);
        evh_ex_set_errorf(args->api, args->host,
                          "slow: config: key \"path\" must not be empty; leave it out to "
                          "write no file, or set e.g. path = \"slow.json\"");
        return EVH_ERR_CONFIG;
    }
    if (sleep_ms > 60000) {
        free(path);
        evh_ex_set_errorf(args->api, args->host,
                          "slow: config: key \"sleep_ms\" must be at most 60000, e.g. sleep_ms = 1");
        return EVH_ERR_CONFIG;
    }

    if (path != NULL && (path = evh_ex_resolve_path(args, path)) == NULL) {
        evh_ex_set_errorf(args->api, args->host, "slow: out of memory");
        return EVH_ERR_INTERNAL;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        free(path);
        evh_ex_set_errorf(args->api, args->host, "slow: out of memory");
        return EVH_ERR_INTERNAL;
    }
    s->host = args->host;
    s->api = args->api;
    s->path = path;
    s->nap.tv_sec = (time_t)(sleep_ms / 1000);
    s->nap.tv_nsec = (long)(sleep_ms % 1000) * 1000000L;
    *instance_out = s;
    return EVH_OK;
}

static void slow_destroy(void *instance)
{
    slow *s = instance;
    free(s->path);
    free(s);
}

static evh_status slow_events(void *instance, const evh_event *const *events, size_t n,
                              size_t *handled)
{
    slow *s = instance;
    struct timespec left = s->nap;
    size_t i;

    (void)handled; /* Only read by the host after RETRY or FAIL, which this never answers. */
    /* A signal cuts the nap short; sleep the rest, so every batch costs the full nap. */
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
    for (i = 0; i < n; i++) {
        s->bytes += events[i]->data.len;
    }
    s->count += n;
    return EVH_OK;
}

static void slow_stop(void *instance)
{
    slow *s = instance;
    char line[96];
    int len, err;

    if (s->path == NULL) {
        return;
    }
    len = snprintf(line, sizeof line, "{\"count\": %" PRIu64 ", \"bytes\": %" PRIu64 "}\n",
                   s->count, s->bytes);
    err = evh_ex_write_file(s->path, line, (size_t)len);
    if (err != 0) {
        evh_ex_logf(s->api, s->host, EVH_LOG_ERROR, "slow: cannot write %s: %s", s->path,
                    strerror(err));
    }
}

const evh_plugin evh_ex_slow_plugin = {
    .struct_size = sizeof(evh_plugin),
    .kind = EVH_KIND_CONSUMER,
    .name = EVH_EX_STR("slow"),
    .version = EVH_EX_STR(EVH_EX_VERSION),
    .description = EVH_EX_STR("sleeps `sleep_ms` per batch and counts events and data bytes "
                              "(a benchmark fixture)"),
    .flags = 0,
    .on_create = slow_create,
    .on_destroy = slow_destroy,
    .on_stop = slow_stop,
    .on_events = slow_events,
};
