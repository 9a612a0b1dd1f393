/*
 * count.c: the cheapest consumer there is, for benchmarks. It counts events and data
 * bytes; on_stop writes {"count": N, "bytes": B} and a newline to `path`, when one is set.
 * It touches no event field but data.len, so a benchmark with it measures the host.
 */
#include <stdbool.h>

#include "plugins.h"
#include "util.h"

typedef struct count {
    evh_ex_result_file out;
    uint64_t count;
    uint64_t bytes;
} count;

static evh_status count_create(const evh_create_args *args, void **instance_out)
{
    static const char *const keys[] = { "path" };
    char *path = NULL;
    evh_status status;
    count *c;

    if ((status = evh_ex_config_begin(args, keys, EVH_EX_LEN(keys))) != EVH_OK ||
        (status = evh_ex_config_path(args, false, "count.json", &path)) != EVH_OK) {
        return status;
    }
    c = evh_ex_new_result_instance(args, sizeof *c, path);
    if (c == NULL) {
        return EVH_ERR_INTERNAL;
    }
    *instance_out = c;
    return EVH_OK;
}

static evh_status count_events(void *instance, const evh_event *const *events, size_t n,
                               size_t *handled)
{
    count *c = instance;
    uint64_t bytes = 0;
    size_t i;

    (void)handled; /* Only read by the host after RETRY or FAIL, which this never answers. */
    for (i = 0; i < n; i++) {
        bytes += events[i]->data.len;
    }
    c->count += n;
    c->bytes += bytes;
    return EVH_OK;
}

static void count_stop(void *instance)
{
    const count *c = instance;
    evh_ex_write_tally(&c->out, c->count, c->bytes);
}

const evh_plugin evh_ex_count_plugin = {
    .struct_size = sizeof(evh_plugin),
    .kind = EVH_KIND_CONSUMER,
    .name = EVH_STR("count"),
    .version = EVH_STR(EVH_EX_VERSION),
    .description = EVH_STR("counts events and data bytes, as cheaply as a consumer can; "
                              "a benchmark fixture"),
    .flags = 0,
    .on_create = count_create,
    .on_destroy = evh_ex_free_result_instance,
    .on_stop = count_stop,
    .on_events = count_events,
};
