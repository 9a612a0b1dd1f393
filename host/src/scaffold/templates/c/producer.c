/* {{name}}: an evhost producer. It emits `count` events (default 10), one every
 * `interval` (default "1s"), then finishes; the host stops when every producer has. Read
 * the ABI's rules in evhost.h: emit copies the events before it returns, and a producer
 * on a host thread (on_run) checks stop_requested. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "evhost.h"

typedef struct {
    const evh_host_api *api;
    evh_host *host;
    uint64_t count;
    uint64_t interval_us;
} state_t;

static evh_status on_create(const evh_create_args *args, void **instance)
{
    static const char *const keys[] = { "count", "interval" };
    uint64_t count = 10, interval_us = 1000000; /* the defaults */
    evh_status status;
    /* The accessors refuse an unknown key ("did you mean") and a value of the wrong type,
     * with the message already set: return their status as it is. */
    if ((status = args->api->config_keys(args, "", keys, 2)) != EVH_OK ||
        (status = args->api->config_uint(args, "count", EVH_CONFIG_OPTIONAL, &count)) != EVH_OK ||
        (status = args->api->config_duration_us(args, "interval", EVH_CONFIG_OPTIONAL, &interval_us)) != EVH_OK) {
        return status;
    }
    state_t *self = calloc(1, sizeof *self);
    if (self == NULL) {
        args->api->set_error(args->host, (evh_str)EVH_STR("out of memory"));
        return EVH_ERR_INTERNAL;
    }
    *self = (state_t){ .api = args->api, .host = args->host, .count = count, .interval_us = interval_us };
    *instance = self;
    return EVH_OK;
}

/* Sleeps up to `us` microseconds in short steps; true when the host asked to stop. */
static int wait_stop(state_t *self, uint64_t us)
{
    while (!self->api->stop_requested(self->host)) {
        if (us == 0) {
            return 0;
        }
        uint64_t step = us < 50000 ? us : 50000;
        struct timespec pause = { (time_t)(step / 1000000), (long)(step % 1000000) * 1000 };
        nanosleep(&pause, NULL);
        us -= step;
    }
    return 1;
}

static evh_status on_run(void *instance)
{
    state_t *self = instance;
    for (uint64_t n = 0; n < self->count; n++) {
        char id[24], data[48];
        int id_len = snprintf(id, sizeof id, "%llu", (unsigned long long)n);
        int data_len = snprintf(data, sizeof data, "{\"n\":%llu}", (unsigned long long)n);
        const evh_event event = {
            .struct_size = sizeof(evh_event),
            .id = { (const uint8_t *)id, (size_t)id_len },
            .source = EVH_STR("/{{name}}"),
            .specversion = EVH_STR("1.0"),
            .type = EVH_STR("com.example.{{lib}}.tick"),
            .datacontenttype = EVH_STR("application/json"),
            .data = { (const uint8_t *)data, (size_t)data_len },
        };
        evh_status status = self->api->emit(self->host, &event, 1, EVH_EMIT_BLOCK);
        if (status == EVH_STOPPED) {
            break;
        }
        if (status != EVH_OK) {
            return status; /* the host has set the message: what it refused and why */
        }
        if (wait_stop(self, self->interval_us)) {
            break;
        }
    }
    return EVH_OK;
}

static void on_destroy(void *instance)
{
    free(instance);
}

static const evh_plugin plugin = {
    .struct_size = sizeof(evh_plugin),
    .kind = EVH_KIND_PRODUCER,
    .name = EVH_STR("{{name}}"),
    .version = EVH_STR("0.1.0"),
    .description = EVH_STR("emits `count` events, one every `interval`"),
    .on_create = on_create,
    .on_destroy = on_destroy,
    .on_run = on_run,
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
