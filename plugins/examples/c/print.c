/*
 * print.c: a consumer that prints one line per event to stdout. It is the README's C
 * example and the demo's console: the smallest useful consumer, with no config.
 */
#include <stdio.h>

#include "plugins.h"
#include "util.h"

static evh_status print_create(const evh_create_args *args, void **instance)
{
    (void)args;
    *instance = stdout; /* no state of its own; the host treats the pointer as opaque */
    return EVH_OK;
}

static evh_status print_events(void *out, const evh_event *const *events, size_t n, size_t *handled)
{
    for (size_t i = 0; i < n; i++) {
        const evh_event *e = events[i];
        fprintf(out, "[c] #%llu %.*s id=%.*s source=%.*s (%zu bytes)\n", (unsigned long long)e->seq,
                (int)e->type.len, (const char *)e->type.ptr, (int)e->id.len, (const char *)e->id.ptr,
                (int)e->source.len, (const char *)e->source.ptr, e->data.len);
    }
    fflush(out);
    *handled = n;
    return EVH_OK;
}

const evh_plugin evh_ex_print_plugin = {
    .struct_size = sizeof(evh_plugin),
    .kind = EVH_KIND_CONSUMER,
    .name = EVH_STR("print"),
    .version = EVH_STR(EVH_EX_VERSION),
    .description = EVH_STR("prints one line per event to stdout"),
    .on_create = print_create,
    .on_events = print_events,
};
