#include "fake.h"
#include "_cgo_export.h"

static evh_status fake_emit(evh_host *host, const evh_event *events, size_t n, uint32_t flags) {
    if (host->discard) return EVH_OK;
    return testhostEmit(host->id, (evh_event *)events, n, flags);
}

static void fake_set_error(evh_host *host, evh_str message) {
    testhostSetError(host->id, (uint8_t *)message.ptr, message.len);
}

static void fake_log(evh_host *host, evh_log_level level, evh_str message) {
    testhostLog(host->id, level, (uint8_t *)message.ptr, message.len);
}

static uint32_t fake_stop_requested(evh_host *host) { return testhostStopRequested(host->id); }

static evh_status fake_emit_tracked(evh_host *host, const evh_event *events, size_t n,
                                    uint32_t flags, uint64_t *ticket) {
    return testhostEmitTracked(host->id, (evh_event *)events, n, flags, ticket);
}

static uint64_t fake_committed(evh_host *host) { return testhostCommitted(host->id); }

static evh_status fake_wait_committed(evh_host *host, uint64_t ticket, uint64_t timeout_ms) {
    (void)timeout_ms; /* the fake never sleeps: tests move the watermark before they wait */
    return testhostCommitted(host->id) >= ticket ? EVH_OK : EVH_BUSY;
}

static evh_str fake_status_name(evh_status status) {
    static const char unknown[] = "EVH_UNKNOWN";
    evh_str s = {(const uint8_t *)unknown, sizeof unknown - 1};
    (void)status;
    return s;
}

static const evh_host_api api = {
    .struct_size = sizeof(evh_host_api),
    .abi_major = EVH_ABI_VERSION_MAJOR,
    .abi_minor = EVH_ABI_VERSION_MINOR,
    .emit = fake_emit,
    .set_error = fake_set_error,
    .log = fake_log,
    .stop_requested = fake_stop_requested,
    .status_name = fake_status_name,
    .emit_tracked = fake_emit_tracked,
    .committed = fake_committed,
    .wait_committed = fake_wait_committed,
};

/* A 1.0 host: its table ends before the 1.1 entries (here poisoned with the 1.1 ones, to
 * show the SDK never reads past struct_size). */
static const evh_host_api api_1_0 = {
    .struct_size = offsetof(evh_host_api, emit_tracked),
    .abi_major = EVH_ABI_VERSION_MAJOR,
    .abi_minor = 0,
    .emit = fake_emit,
    .set_error = fake_set_error,
    .log = fake_log,
    .stop_requested = fake_stop_requested,
    .status_name = fake_status_name,
    .emit_tracked = fake_emit_tracked,
    .committed = fake_committed,
    .wait_committed = fake_wait_committed,
};

const evh_host_api *testhost_api(void) { return &api; }

evh_status testhost_create(const evh_plugin *p, evh_host *host, const char *name, size_t name_len,
                           const char *config, size_t config_len, int abi_1_0, void **out) {
    evh_create_args args = {
        .struct_size = sizeof args,
        .host = host,
        .api = abi_1_0 ? &api_1_0 : &api,
        .instance_name = {(const uint8_t *)name, name_len},
        .config_json = {(const uint8_t *)config, config_len},
        .plugin = p,
        .config_dir = {(const uint8_t *)"/etc/evhost", 11},
    };
    return p->on_create(&args, out);
}

evh_status testhost_events(const evh_plugin *p, void *instance, const evh_event *const *events,
                           size_t n, size_t *handled) {
    return p->on_events(instance, events, n, handled);
}

evh_status testhost_run(const evh_plugin *p, void *instance) { return p->on_run(instance); }

void testhost_committed(const evh_plugin *p, void *instance, uint64_t committed) {
    p->on_committed(instance, committed);
}

void testhost_stop(const evh_plugin *p, void *instance) { p->on_stop(instance); }

void testhost_destroy(const evh_plugin *p, void *instance) { p->on_destroy(instance); }
