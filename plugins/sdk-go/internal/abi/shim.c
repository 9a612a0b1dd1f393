/* The exported entry point and the hook trampolines, with the header's exact signatures.
 * cgo's prototypes for //export functions drop const qualifiers, so the symbols the host
 * sees are defined here and forward to the Go exports in exports.go. */
#include <stdlib.h>
#include "shim.h"
#include "_cgo_export.h"

EVH_EXPORT evh_status evh_library_init(const evh_host_api *api, const evh_library **out) {
    return evhgoLibraryInit((evh_host_api *)api, (evh_library **)out);
}

static evh_status create(int slot, const evh_create_args *args, void **instance_out) {
    uintptr_t handle = 0;
    evh_status status = evhgoOnCreate(slot, (evh_create_args *)args, &handle);
    if (status == EVH_OK) {
        /* The instance pointer is a runtime/cgo.Handle value, never dereferenced. */
        *instance_out = (void *)handle;
    }
    return status;
}

/* on_create_<i><j> serves slot 8*i+j. */
#define CREATE(name, slot) \
    static evh_status on_create_##name(const evh_create_args *a, void **o) { return create(slot, a, o); }
#define CREATE8(i) CREATE(i##0, 8 * i + 0) CREATE(i##1, 8 * i + 1) CREATE(i##2, 8 * i + 2) \
                   CREATE(i##3, 8 * i + 3) CREATE(i##4, 8 * i + 4) CREATE(i##5, 8 * i + 5) \
                   CREATE(i##6, 8 * i + 6) CREATE(i##7, 8 * i + 7)
CREATE8(0) CREATE8(1) CREATE8(2) CREATE8(3) CREATE8(4) CREATE8(5) CREATE8(6) CREATE8(7)

typedef evh_status (*create_fn)(const evh_create_args *, void **);
#define SLOT8(i) on_create_##i##0, on_create_##i##1, on_create_##i##2, on_create_##i##3, \
                 on_create_##i##4, on_create_##i##5, on_create_##i##6, on_create_##i##7
static const create_fn create_slots[EVHGO_MAX_PLUGINS] = {
    SLOT8(0), SLOT8(1), SLOT8(2), SLOT8(3), SLOT8(4), SLOT8(5), SLOT8(6), SLOT8(7),
};

static void on_destroy(void *instance) { evhgoOnDestroy((uintptr_t)instance); }

static evh_status on_run(void *instance) { return evhgoOnRun((uintptr_t)instance); }

static void on_stop(void *instance) { evhgoOnStop((uintptr_t)instance); }

static evh_status on_events(void *instance, const evh_event *const *events, size_t n,
                            size_t *handled) {
    return evhgoOnEvents((uintptr_t)instance, (void *)events, n, handled);
}

/* Allocated once per registered plugin and never freed: a Go library is never unloaded. */
evh_plugin *evhgo_new_plugin(int slot, evh_kind kind, evh_str name, evh_str version,
                             evh_str description, uint64_t flags) {
    if (slot < 0 || slot >= EVHGO_MAX_PLUGINS) return NULL;
    evh_plugin *p = calloc(1, sizeof *p);
    if (p == NULL) return NULL;
    p->struct_size = sizeof *p;
    p->kind = kind;
    p->name = name;
    p->version = version;
    p->description = description;
    p->flags = flags;
    p->on_create = create_slots[slot];
    p->on_destroy = on_destroy;
    p->on_stop = on_stop;
    if (kind == EVH_KIND_PRODUCER) p->on_run = on_run;
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
