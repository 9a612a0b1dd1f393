/* {{name}}: an evhost consumer. It prints one line per event, after `prefix` (optional;
 * the plugin's name when absent). Read the ABI's rules in evhost.h: what the host passes
 * is valid during the call only, and a failure is explained with set_error. */
#include <stdio.h>
#include <stdlib.h>
#include "evhost.h"

typedef struct {
    char prefix[64];
} state_t;

static evh_status on_create(const evh_create_args *args, void **instance)
{
    static const char *const keys[] = { "prefix" };
    evh_str prefix = EVH_STR("{{name}}");
    evh_status status;
    /* The accessors refuse an unknown key ("did you mean") and a value of the wrong type,
     * with the message already set: return their status as it is. */
    if ((status = args->api->config_keys(args, "", keys, 1)) != EVH_OK ||
        (status = args->api->config_string(args, "prefix", EVH_CONFIG_OPTIONAL, &prefix)) != EVH_OK) {
        return status;
    }
    state_t *self = calloc(1, sizeof *self);
    if (self == NULL) {
        args->api->set_error(args->host, (evh_str)EVH_STR("out of memory"));
        return EVH_ERR_INTERNAL;
    }
    /* The string is the host's, valid during on_create only: copy it. */
    snprintf(self->prefix, sizeof self->prefix, "%.*s", (int)prefix.len, (const char *)prefix.ptr);
    *instance = self;
    return EVH_OK;
}

static evh_status on_events(void *instance, const evh_event *const *events, size_t n, size_t *handled)
{
    state_t *self = instance;
    for (size_t i = 0; i < n; i++) {
        const evh_event *e = events[i];
        printf("[%s] #%llu %.*s id=%.*s source=%.*s (%zu bytes)\n", self->prefix, (unsigned long long)e->seq,
               (int)e->type.len, (const char *)e->type.ptr, (int)e->id.len, (const char *)e->id.ptr,
               (int)e->source.len, (const char *)e->source.ptr, e->data.len);
    }
    fflush(stdout);
    *handled = n;
    return EVH_OK;
}

static void on_destroy(void *instance)
{
    free(instance);
}

static const evh_plugin plugin = {
    .struct_size = sizeof(evh_plugin),
    .kind = EVH_KIND_CONSUMER,
    .name = EVH_STR("{{name}}"),
    .version = EVH_STR("0.1.0"),
    .description = EVH_STR("prints one line per event"),
    .on_create = on_create,
    .on_destroy = on_destroy,
    .on_events = on_events,
};

static const evh_plugin *const plugins[] = { &plugin };
static const evh_library library = {
    .struct_size = sizeof(evh_library), .abi_major = EVH_ABI_VERSION_MAJOR,
    .abi_minor = EVH_ABI_VERSION_MINOR, .plugins = plugins, .plugins_len = 1,
};

/* The library's one export: its ABI version and its plugins. */
EVH_EXPORT evh_status evh_library_init(const evh_host_api *api, const evh_library **out)
{
    if (api->abi_major != EVH_ABI_VERSION_MAJOR) {
        return EVH_ERR_VERSION;
    }
    *out = &library;
    return EVH_OK;
}
