/* The exported entry point and the hook trampolines, with the header's exact signatures.
 * cgo's prototypes for //export functions drop const qualifiers, so the symbols the host
 * sees are defined here and forward to the Go exports in exports.go. */
#include <stdlib.h>
#include "shim.h"
#include "_cgo_export.h"

EVH_EXPORT evh_status evh_library_init(const evh_host_api *api, const evh_library **out) {
    return evhgoLibraryInit((evh_host_api *)api, (evh_library **)out);
}

/* A plugin as this library allocates it: the host's table, then the registry slot, so that
 * on_create can tell from args->plugin which plugin to instantiate. */
typedef struct evhgo_plugin {
    evh_plugin plugin;
    int slot;
} evhgo_plugin;

static evh_status on_create(const evh_create_args *args, void **instance_out) {
    uintptr_t handle = 0;
    evh_status status;
    if (args == NULL || instance_out == NULL || args->plugin == NULL) {
        return EVH_ERR_INVALID_ARGUMENT;
    }
    status = evhgoOnCreate(((const evhgo_plugin *)args->plugin)->slot, (evh_create_args *)args, &handle);
    if (status == EVH_OK) {
        /* The instance pointer is a runtime/cgo.Handle value, never dereferenced. */
        *instance_out = (void *)handle;
    }
    return status;
}

static void on_destroy(void *instance) { evhgoOnDestroy((uintptr_t)instance); }

static evh_status on_run(void *instance) { return evhgoOnRun((uintptr_t)instance); }

static void on_stop(void *instance) { evhgoOnStop((uintptr_t)instance); }

static void on_committed(void *instance, uint64_t committed) {
    evhgoOnCommitted((uintptr_t)instance, committed);
}

static evh_status on_events(void *instance, const evh_event *const *events, size_t n,
                            size_t *handled) {
    return evhgoOnEvents((uintptr_t)instance, (void *)events, n, handled);
}

/* Allocated once per registered plugin and never freed: a Go library is never unloaded. */
evh_plugin *evhgo_new_plugin(int slot, evh_kind kind, evh_str name, evh_str version,
                             evh_str description, uint64_t flags) {
    evhgo_plugin *wrapper = calloc(1, sizeof *wrapper);
    if (wrapper == NULL) return NULL;
    wrapper->slot = slot;
    evh_plugin *p = &wrapper->plugin;
    p->struct_size = sizeof *p;
    p->kind = kind;
    p->name = name;
    p->version = version;
    p->description = description;
    p->flags = flags;
    p->on_create = on_create;
    p->on_destroy = on_destroy;
    p->on_stop = on_stop;
    if (kind == EVH_KIND_PRODUCER) {
        p->on_run = on_run;
        p->on_committed = on_committed;
    }
    if (kind == EVH_KIND_CONSUMER) p->on_events = on_events;
    return p;
}

evh_status evhgo_emit(const evh_host_api *api, evh_host *host, const void *events, size_t n,
                      uint32_t flags) {
    return api->emit(host, (const evh_event *)events, n, flags);
}

void evhgo_set_error(const evh_host_api *api, evh_host *host, const void *msg, size_t len) {
    evh_str s = {(const uint8_t *)msg, len};
    api->set_error(host, s);
}

void evhgo_log(const evh_host_api *api, evh_host *host, evh_log_level level, const void *msg,
               size_t len) {
    evh_str s = {(const uint8_t *)msg, len};
    api->log(host, level, s);
}

uint32_t evhgo_stop_requested(const evh_host_api *api, evh_host *host) {
    return api->stop_requested(host);
}

int evhgo_tracks_commits(const evh_host_api *api) {
    /* Read only when the host's table has them: a 1.0 table ends before. */
    return api->struct_size >= sizeof(evh_host_api) && api->emit_tracked != NULL &&
           api->committed != NULL && api->wait_committed != NULL;
}

evh_status evhgo_emit_tracked(const evh_host_api *api, evh_host *host, const void *events,
                              size_t n, uint32_t flags, uint64_t *ticket) {
    if (!evhgo_tracks_commits(api)) {
        *ticket = 0;
        return api->emit(host, (const evh_event *)events, n, flags);
    }
    return api->emit_tracked(host, (const evh_event *)events, n, flags, ticket);
}

uint64_t evhgo_committed(const evh_host_api *api, evh_host *host) {
    return evhgo_tracks_commits(api) ? api->committed(host) : UINT64_MAX;
}

evh_status evhgo_wait_committed(const evh_host_api *api, evh_host *host, uint64_t ticket,
                                uint64_t timeout_ms) {
    return evhgo_tracks_commits(api) ? api->wait_committed(host, ticket, timeout_ms) : EVH_OK;
}

evh_status evhgo_config_check(const evh_create_args *args, int accessor, const char *path,
                              const char *const *keys, size_t keys_len) {
    const evh_host_api *api = args->api;
    if (api->struct_size < offsetof(evh_host_api, config_keys) + sizeof api->config_keys) {
        return EVH_ERR_UNSUPPORTED;
    }
    evh_str text;
    int64_t integer;
    uint64_t natural;
    double number;
    bool flag;
    size_t len;
    /* A table that is long enough may still leave an accessor NULL: not implemented. */
    switch (accessor) {
    case EVHGO_CONFIG_KEYS:
        return api->config_keys ? api->config_keys(args, path, keys, keys_len) : EVH_ERR_UNSUPPORTED;
    case EVHGO_CONFIG_STRING:
        return api->config_string ? api->config_string(args, path, EVH_CONFIG_REQUIRED, &text) : EVH_ERR_UNSUPPORTED;
    case EVHGO_CONFIG_INT:
        return api->config_int ? api->config_int(args, path, EVH_CONFIG_REQUIRED, &integer) : EVH_ERR_UNSUPPORTED;
    case EVHGO_CONFIG_UINT:
        return api->config_uint ? api->config_uint(args, path, EVH_CONFIG_REQUIRED, &natural) : EVH_ERR_UNSUPPORTED;
    case EVHGO_CONFIG_FLOAT:
        return api->config_float ? api->config_float(args, path, EVH_CONFIG_REQUIRED, &number) : EVH_ERR_UNSUPPORTED;
    case EVHGO_CONFIG_BOOL:
        return api->config_bool ? api->config_bool(args, path, EVH_CONFIG_REQUIRED, &flag) : EVH_ERR_UNSUPPORTED;
    case EVHGO_CONFIG_LEN:
        return api->config_len ? api->config_len(args, path, EVH_CONFIG_REQUIRED, &len) : EVH_ERR_UNSUPPORTED;
    }
    return EVH_ERR_UNSUPPORTED;
}
