/*
 * latency.c: a consumer that measures how long events took from emit to delivery, for
 * `make bench`. It reads the `ticker` producer's 8-byte little-endian CLOCK_MONOTONIC stamp
 * from each event's data and keeps now - stamp in ns; every sample is kept (8 bytes each, a
 * few million are fine), so the percentiles are exact. on_stop writes
 *   {"count": N, "p50_ns": .., "p99_ns": .., "p999_ns": ..}
 * and a newline to `path` (nearest-rank percentiles; all 0 when no event came).
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdbool.h>
#include <time.h>

#include "json.h"
#include "plugins.h"
#include "util.h"

#define STAMP_BYTES 8

typedef struct latency {
    evh_host *host;
    const evh_host_api *api;
    char *path;
    uint64_t *samples;
    size_t len;
    size_t cap;
} latency;

static evh_status latency_create(const evh_create_args *args, void **instance_out)
{
    char *path = NULL;
    const evh_ex_json_field fields[] = {
        { "path", EVH_EX_JSON_STRING, true, "path = \"latency.json\"", NULL, &path, NULL },
    };
    char err[512];
    latency *l;

    if (args == NULL || args->api == NULL || instance_out == NULL) {
        return EVH_ERR_INVALID_ARGUMENT;
    }
    if (!evh_ex_json_read_object(args->config_json.ptr, args->config_json.len, fields,
                                 sizeof fields / sizeof fields[0], err, sizeof err)) {
        evh_ex_set_errorf(args->api, args->host, "latency: config: %s", err);
        return EVH_ERR_CONFIG;
    }
    if (path[0] == '\0') {
        free(path);
        evh_ex_set_errorf(args->api, args->host,
                          "latency: config: key \"path\" must not be empty, e.g. "
                          "path = \"latency.json\"");
        return EVH_ERR_CONFIG;
    }
    if (path != NULL && (path = evh_ex_resolve_path(args, path)) == NULL) {
        evh_ex_set_errorf(args->api, args->host, "latency: out of memory");
        return EVH_ERR_INTERNAL;
    }
    l = calloc(1, sizeof *l);
    if (l == NULL) {
        free(path);
        evh_ex_set_errorf(args->api, args->host, "latency: out of memory");
        return EVH_ERR_INTERNAL;
    }
    l->host = args->host;
    l->api = args->api;
    l->path = path;
    *instance_out = l;
    return EVH_OK;
}

static void latency_destroy(void *instance)
{
    latency *l = instance;
    free(l->samples);
    free(l->path);
    free(l);
}

/* Room for `more` samples; false when memory ran out. */
static bool reserve(latency *l, size_t more)
{
    size_t cap = l->cap != 0 ? l->cap : 4096;
    uint64_t *grown;

    while (cap - l->len < more) {
        if (cap > SIZE_MAX / 2 / sizeof *grown) {
            return false;
        }
        cap *= 2;
    }
    if (cap == l->cap) {
        return true;
    }
    grown = realloc(l->samples, cap * sizeof *grown);
    if (grown == NULL) {
        return false;
    }
    l->samples = grown;
    l->cap = cap;
    return true;
}

static evh_status latency_events(void *instance, const evh_event *const *events, size_t n,
                                 size_t *handled)
{
    latency *l = instance;
    struct timespec ts;
    uint64_t now;
    size_t i;

    /* One clock read per call: every event of the batch reached the plugin at this moment. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
    if (!reserve(l, n)) {
        *handled = 0;
        evh_ex_set_errorf(l->api, l->host, "latency: out of memory after %zu samples", l->len);
        return EVH_ERR_INTERNAL;
    }
    for (i = 0; i < n; i++) {
        const evh_event *e = events[i];
        uint64_t stamp = 0;
        size_t b;

        if (e->data.len != STAMP_BYTES) {
            *handled = i;
            evh_ex_set_errorf(l->api, l->host,
                              "latency: event %.*s has %zu data bytes, not the 8-byte stamp "
                              "of the ticker producer",
                              (int)e->id.len, (const char *)e->id.ptr, e->data.len);
            return EVH_FAIL;
        }
        for (b = 0; b < STAMP_BYTES; b++) {
            stamp |= (uint64_t)e->data.ptr[b] << (8 * b);
        }
        l->samples[l->len++] = now > stamp ? now - stamp : 0;
    }
    return EVH_OK;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The nearest-rank percentile `per_mille` / 1000 of the sorted samples. */
static uint64_t percentile(const latency *l, uint64_t per_mille)
{
    uint64_t rank;

    if (l->len == 0) {
        return 0;
    }
    rank = ((uint64_t)l->len * per_mille + 999) / 1000;
    return l->samples[rank == 0 ? 0 : rank - 1];
}

static void latency_stop(void *instance)
{
    latency *l = instance;
    char line[160];
    int len, err;

    if (l->len > 0) {
        qsort(l->samples, l->len, sizeof *l->samples, compare_u64);
    }
    len = snprintf(line, sizeof line,
                   "{\"count\": %zu, \"p50_ns\": %" PRIu64 ", \"p99_ns\": %" PRIu64
                   ", \"p999_ns\": %" PRIu64 "}\n",
                   l->len, percentile(l, 500), percentile(l, 990), percentile(l, 999));
    err = evh_ex_write_file(l->path, line, (size_t)len);
    if (err != 0) {
        evh_ex_logf(l->api, l->host, EVH_LOG_ERROR, "latency: cannot write %s: %s", l->path,
                    strerror(err));
    }
}

const evh_plugin evh_ex_latency_plugin = {
    .struct_size = sizeof(evh_plugin),
    .kind = EVH_KIND_CONSUMER,
    .name = EVH_EX_STR("latency"),
    .version = EVH_EX_STR(EVH_EX_VERSION),
    .description = EVH_EX_STR("measures emit-to-delivery latency from the ticker's stamps; "
                              "writes p50/p99/p999 on stop (a benchmark fixture)"),
    .flags = 0,
    .on_create = latency_create,
    .on_destroy = latency_destroy,
    .on_stop = latency_stop,
    .on_events = latency_events,
};
