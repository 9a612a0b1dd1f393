/* A fake host API for the SDK's tests: every callback forwards to Go (testhost.go). */
#ifndef EVHGO_TESTHOST_FAKE_H
#define EVHGO_TESTHOST_FAKE_H

#include <stddef.h>
#include "evhost.h"

struct evh_host {
    uint64_t id;
    /* Non-zero: emit accepts and forgets, without calling into Go (for benchmarks). */
    uint32_t discard;
};

const evh_host_api *testhost_api(void);
evh_status testhost_create(const evh_plugin *p, evh_host *host, const char *name, size_t name_len,
                           const char *config, size_t config_len, int abi_1_0, void **out);
evh_status testhost_events(const evh_plugin *p, void *instance, const evh_event *const *events,
                           size_t n, size_t *handled);
evh_status testhost_run(const evh_plugin *p, void *instance);
void testhost_committed(const evh_plugin *p, void *instance, uint64_t committed);
void testhost_stop(const evh_plugin *p, void *instance);
void testhost_destroy(const evh_plugin *p, void *instance);

#endif
