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
 *
 * With `claim = true` (ABI 1.2) it writes each batch straight into the host's memory
 * instead: claim room for the batch, write the shared attributes once, then each event's
 * id, data and evh_event in place, and publish. Nothing is copied after that. The bytes
 * are the same; only the path differs (the benchmark's `evhost_c_claim`).
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
    /* Claim and publish (ABI 1.2) instead of emit. */
    bool claim;
} sequence;

static const evh_str sequence_source = EVH_STR("/evhost/examples/sequence");
static const evh_str sequence_type = EVH_STR("dev.evhost.example.sequence");
static const evh_str sequence_content_type = EVH_STR("application/octet-stream");

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
        e->source = sequence_source;
        e->type = sequence_type;
        e->datacontenttype = sequence_content_type;
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
    static const char *const keys[] = { "count", "payload_bytes", "batch", "claim" };
    uint64_t count = 0, payload_bytes = 64, batch = 64;
    bool claim = false;
    evh_status status;
    uint64_t per_emit;
    sequence *s;

    /* Defaults are set above: an optional key left out leaves its variable as it was. */
    if ((status = evh_ex_config_begin(args, keys, EVH_EX_LEN(keys))) != EVH_OK ||
        (status = args->api->config_uint(args, "count", EVH_CONFIG_REQUIRED, &count)) != EVH_OK ||
        (status = args->api->config_uint(args, "payload_bytes", EVH_CONFIG_OPTIONAL,
                                         &payload_bytes)) != EVH_OK ||
        (status = args->api->config_uint(args, "batch", EVH_CONFIG_OPTIONAL, &batch)) != EVH_OK ||
        (status = args->api->config_bool(args, "claim", EVH_CONFIG_OPTIONAL, &claim)) != EVH_OK) {
        return status;
    }
    if (claim && (args->api->struct_size <= offsetof(evh_host_api, claim) || args->api->claim == NULL)) {
        evh_ex_set_errorf(args->api, args->host,
                          "`claim = true` needs a host with ABI 1.2 or later (this one speaks "
                          "%u.%u); remove it to emit instead",
                          args->api->abi_major, args->api->abi_minor);
        return EVH_ERR_CONFIG;
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
    s->claim = claim;
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

/* Copies a view's bytes to *at and returns the copy's view. */
static evh_str put(uint8_t **at, evh_str v)
{
    evh_str copy = { *at, v.len };
    memcpy(*at, v.ptr, v.len);
    *at += v.len;
    return copy;
}

/*
 * Writes events next..next+n-1 into a claim and publishes them: the shared attributes once
 * at the start of the claim's bytes, then per event its id (right-aligned in an id slot, as
 * emit's path does) and its data, and the event itself from a template.
 */
static evh_status claim_batch(sequence *s, uint64_t next, size_t n)
{
    size_t bytes = sequence_source.len + sequence_type.len + sequence_content_type.len +
                   n * (EVH_EX_ID_MAX + s->payload_bytes);
    evh_claim c;
    evh_event template = { 0 };
    evh_status status = s->api->claim(s->host, n, bytes, 0, &c);
    uint8_t *at;
    size_t i;

    if (status != EVH_OK) {
        return status;
    }
    at = c.bytes;
    template.struct_size = sizeof(evh_event);
    template.source = put(&at, sequence_source);
    template.type = put(&at, sequence_type);
    template.datacontenttype = put(&at, sequence_content_type);
    template.data.len = s->payload_bytes;
    for (i = 0; i < n; i++) {
        uint64_t k = next + i;
        evh_event *e = &c.events[i];

        *e = template;
        e->id = evh_ex_format_id((char *)at, k);
        at += EVH_EX_ID_MAX;
        if (s->payload_bytes > 0) {
            memcpy(at, s->pattern + (k & 0xFF), s->payload_bytes);
            e->data.ptr = at;
            at += s->payload_bytes;
        }
    }
    status = s->api->publish(s->host, &c, n, EVH_EMIT_BLOCK, NULL);
    if (status != EVH_OK) {
        s->api->abandon(s->host, &c);
    }
    return status;
}

static evh_status sequence_run(void *instance)
{
    sequence *s = instance;
    uint64_t next = 0;

    while (next < s->count && !stopping(s)) {
        size_t n = s->count - next < s->batch ? (size_t)(s->count - next) : s->batch;
        evh_status status;
        size_t i;

        if (s->claim) {
            status = claim_batch(s, next, n);
        } else {
            for (i = 0; i < n; i++) {
                uint64_t k = next + i;
                s->events[i].id = evh_ex_format_id(s->ids + i * EVH_EX_ID_MAX, k);
                s->events[i].data.ptr = s->pattern != NULL ? s->pattern + (k & 0xFF) : NULL;
            }
            status = s->api->emit(s->host, s->events, n, EVH_EMIT_BLOCK);
        }
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
