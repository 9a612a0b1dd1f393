/*
 * digest.c: a consumer that folds every event it receives into one 64-bit FNV-1a hash.
 *
 * It is a cross-language test vector: two hosts, or two plugin languages, agree on what was
 * delivered exactly when their digest files are equal. Per event it hashes the id bytes,
 * 0x1F, the type bytes, 0x1F, the data bytes, 0x1E (ASCII unit and record separators, so
 * moving a byte across a field boundary changes the hash). on_stop writes
 *   {"count": N, "digest": "<16 lowercase hex digits>", "in_order": true|false}
 * and a newline to `path`; in_order says whether every seq exceeded the previous one.
 */
#include <inttypes.h>
#include <stdbool.h>

#include "plugins.h"
#include "util.h"

#define FNV_OFFSET_BASIS UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)

typedef struct digest {
    evh_ex_result_file out;
    uint64_t hash;
    uint64_t count;
    uint64_t last_seq;
    bool in_order;
} digest;

static uint64_t fnv1a(uint64_t hash, const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        hash = (hash ^ p[i]) * FNV_PRIME;
    }
    return hash;
}

static uint64_t fnv1a_byte(uint64_t hash, uint8_t b)
{
    return (hash ^ b) * FNV_PRIME;
}

static evh_status digest_create(const evh_create_args *args, void **instance_out)
{
    static const char *const keys[] = { "path" };
    char *path = NULL;
    evh_status status;
    digest *d;

    if ((status = evh_ex_config_begin(args, keys, EVH_EX_LEN(keys))) != EVH_OK ||
        (status = evh_ex_config_path(args, true, "digest.json", &path)) != EVH_OK) {
        return status;
    }
    d = evh_ex_new_result_instance(args, sizeof *d, path);
    if (d == NULL) {
        return EVH_ERR_INTERNAL;
    }
    d->hash = FNV_OFFSET_BASIS;
    d->in_order = true;
    *instance_out = d;
    return EVH_OK;
}

static evh_status digest_events(void *instance, const evh_event *const *events, size_t n,
                                size_t *handled)
{
    digest *d = instance;
    uint64_t hash = d->hash;
    size_t i;

    (void)handled; /* Only read by the host after RETRY or FAIL, which this never answers. */
    for (i = 0; i < n; i++) {
        const evh_event *e = events[i];

        if (d->count > 0 && e->seq <= d->last_seq) {
            d->in_order = false;
        }
        d->last_seq = e->seq;
        d->count++;

        hash = fnv1a(hash, e->id.ptr, e->id.len);
        hash = fnv1a_byte(hash, 0x1F);
        hash = fnv1a(hash, e->type.ptr, e->type.len);
        hash = fnv1a_byte(hash, 0x1F);
        hash = fnv1a(hash, e->data.ptr, e->data.len);
        hash = fnv1a_byte(hash, 0x1E);
    }
    d->hash = hash;
    return EVH_OK;
}

static void digest_stop(void *instance)
{
    digest *d = instance;
    char line[128];
    int len;

    len = snprintf(line, sizeof line,
                   "{\"count\": %" PRIu64 ", \"digest\": \"%016" PRIx64 "\", \"in_order\": %s}\n",
                   d->count, d->hash, d->in_order ? "true" : "false");
    evh_ex_write_result(&d->out, line, len);
}

const evh_plugin evh_ex_digest_plugin = {
    .struct_size = sizeof(evh_plugin),
    .kind = EVH_KIND_CONSUMER,
    .name = EVH_STR("digest"),
    .version = EVH_STR(EVH_EX_VERSION),
    .description = EVH_STR("folds every event into a 64-bit FNV-1a digest and writes it to "
                              "`path` on stop"),
    .flags = 0,
    .on_create = digest_create,
    .on_destroy = evh_ex_free_result_instance,
    .on_stop = digest_stop,
    .on_events = digest_events,
};
