/*
 * sequence.c: a producer that emits `count` numbered events, then finishes.
 *
 * It is a cross-language test vector: its Rust, Go and C++ twins emit the same bytes.
 * Event k (from 0) has id = k in decimal, fixed source, type and datacontenttype, and
 * `payload_bytes` bytes of data where byte i is (k + i) mod 256. Events go out `batch` at a
 * time, one blocking emit per batch.
 *
 * Nothing is allocated per event: on_create builds one batch of events with their constant
 * attributes, one id slot per event, and one pattern buffer whose byte j is j mod 256, so
 * the data of event k is simply the window starting at k mod 256. emit copies, so the same
 * memory serves every batch.
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "plugins.h"
#include "util.h"

typedef struct sequence {
    evh_host *host;
    const evh_host_api *api;
    uint64_t count;
    /* Events per emit: the configured batch, but no more than count. */
    size_t batch;
    size_t payload_bytes;
    /* payload_bytes + 255 bytes, pattern[j] = j mod 256; NULL when payload_bytes is 0. */
    uint8_t *pattern;
    evh_event *events;
    /* One EVH_EX_ID_MAX-byte slot per event; an id is written right-aligned in its slot. */
    char *ids;
    /* Set by on_stop from another thread; read between batches. */
    atomic_bool stop;
} sequence;

static void sequence_free(sequence *s)
{
    free(s->pattern);
    free(s->events);
    free(s->ids);
    free(s);
}

/* Allocates the reusable batch; false when the config asks for more memory than there is. */
static bool sequence_alloc(sequence *s)
{
    static const evh_str source = EVH_STR("/evhost/examples/sequence");
    static const evh_str type = EVH_STR("dev.evhost.example.sequence");
    static const evh_str content_type = EVH_STR("application/octet-stream");
    size_t i;

    if (s->batch == 0) {
        return true;
    }
    s->events = calloc(s->batch, sizeof(evh_event));
    s->ids = malloc(s->batch * EVH_EX_ID_MAX);
    if (s->events == NULL || s->ids == NULL) {
        return false;
    }
    if (s->payload_bytes > 0) {
        s->pattern = malloc(s->payload_bytes + 255);
        if (s->pattern == NULL) {
            return false;
        }
        for (i = 0; i < s->payload_bytes + 255; i++) {
            s->pattern[i] = (uint8_t)i;
        }
    }
    for (i = 0; i < s->batch; i++) {
        evh_event *e = &s->events[i];
        e->struct_size = sizeof(evh_event);
        e->source = source;
        e->type = type;
        e->datacontenttype = content_type;
        e->data.len = s->payload_bytes;
    }
    return true;
}

static evh_status too_large(const evh_create_args *args, uint64_t batch, uint64_t payload_bytes)
{
    evh_ex_set_errorf(args->api, args->host,
                      "cannot allocate a batch of %llu events with payload_bytes = %llu; "
                      "lower batch or payload_bytes",
                      (unsigned long long)batch, (unsigned long long)payload_bytes);
    return EVH_ERR_CONFIG;
}

static evh_status sequence_create(const evh_create_args *args, void **instance_out)
{
    static const char *const keys[] = { "count", "payload_bytes", "batch" };
    uint64_t count = 0, payload_bytes = 64, batch = 64;
    evh_status status;
    uint64_t per_emit;
    sequence *s;

    /* Defaults are set above: an optional key left out leaves its variable as it was. */
    if ((status = evh_ex_config_begin(args, keys, EVH_EX_LEN(keys))) != EVH_OK ||
        (status = args->api->config_uint(args, "count", EVH_CONFIG_REQUIRED, &count)) != EVH_OK ||
        (status = args->api->config_uint(args, "payload_bytes", EVH_CONFIG_OPTIONAL,
                                         &payload_bytes)) != EVH_OK ||
        (status = args->api->config_uint(args, "batch", EVH_CONFIG_OPTIONAL, &batch)) != EVH_OK) {
        return status;
    }
    if (batch == 0) {
        evh_ex_set_errorf(args->api, args->host,
                          "`batch` = 0 is too small; write at least 1, e.g. batch = 64");
        return EVH_ERR_CONFIG;
    }

    /* Size checks before the casts to size_t; sizeof(evh_event) > EVH_EX_ID_MAX covers the ids. */
    per_emit = batch < count ? batch : count;
    if (per_emit > SIZE_MAX / sizeof(evh_event) || payload_bytes > SIZE_MAX - 255) {
        return too_large(args, batch, payload_bytes);
    }
    s = evh_ex_new_instance(args, sizeof *s);
    if (s == NULL) {
        return EVH_ERR_INTERNAL;
    }
    s->host = args->host;
    s->api = args->api;
    s->count = count;
    s->batch = (size_t)per_emit;
    s->payload_bytes = (size_t)payload_bytes;
    atomic_init(&s->stop, false);
    if (!sequence_alloc(s)) {
        sequence_free(s);
        return too_large(args, batch, payload_bytes);
    }
    *instance_out = s;
    return EVH_OK;
}

static void sequence_destroy(void *instance)
{
    sequence_free(instance);
}

static bool stopping(sequence *s)
{
    /* Relaxed: the flag publishes no data, and a late sighting costs one more batch. */
    return atomic_load_explicit(&s->stop, memory_order_relaxed) || s->api->stop_requested(s->host);
}

static evh_status sequence_run(void *instance)
{
    sequence *s = instance;
    uint64_t next = 0;

    while (next < s->count && !stopping(s)) {
        size_t n = s->count - next < s->batch ? (size_t)(s->count - next) : s->batch;
        evh_status status;
        size_t i;

        for (i = 0; i < n; i++) {
            uint64_t k = next + i;
            s->events[i].id = evh_ex_format_id(s->ids + i * EVH_EX_ID_MAX, k);
            s->events[i].data.ptr = s->pattern != NULL ? s->pattern + (k & 0xFF) : NULL;
        }
        status = s->api->emit(s->host, s->events, n, EVH_EMIT_BLOCK);
        if (status != EVH_OK) {
            evh_str name = s->api->status_name(status);
            if (name.ptr == NULL) {
                name.len = 0;
                name.ptr = (const uint8_t *)"";
            }
            evh_ex_set_errorf(s->api, s->host,
                              "emitting events %llu..%llu failed with %.*s (%d)",
                              (unsigned long long)next, (unsigned long long)(next + n - 1),
                              (int)name.len, (const char *)name.ptr, (int)status);
            return status;
        }
        next += n;
    }
    return EVH_OK;
}

static void sequence_stop(void *instance)
{
    sequence *s = instance;
    atomic_store_explicit(&s->stop, true, memory_order_relaxed);
}

const evh_plugin evh_ex_sequence_plugin = {
    .struct_size = sizeof(evh_plugin),
    .kind = EVH_KIND_PRODUCER,
    .name = EVH_STR("sequence"),
    .version = EVH_STR(EVH_EX_VERSION),
    .description = EVH_STR("emits `count` numbered events with a fixed byte pattern, "
                              "then finishes"),
    .flags = 0,
    .on_create = sequence_create,
    .on_destroy = sequence_destroy,
    .on_run = sequence_run,
    .on_stop = sequence_stop,
};
