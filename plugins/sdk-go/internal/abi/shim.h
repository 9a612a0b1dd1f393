/* The C half of package abi, shared by the cgo preambles and shim.c. */
#ifndef EVHGO_SHIM_H
#define EVHGO_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include "evhost.h"

#define EVHGO_HIDDEN __attribute__((visibility("hidden")))

/* The size of ABI 1.0's host API table: a 1.0 host's table ends where 1.1 appended. */
#define EVHGO_HOST_API_SIZE_1_0 offsetof(evh_host_api, emit_tracked)

EVHGO_HIDDEN evh_plugin *evhgo_new_plugin(int slot, evh_kind kind, evh_str name, evh_str version,
                                          evh_str description, uint64_t flags);

EVHGO_HIDDEN evh_status evhgo_emit(const evh_host_api *api, evh_host *host, const void *events,
                                   size_t n, uint32_t flags);
EVHGO_HIDDEN void evhgo_set_error(const evh_host_api *api, evh_host *host, const void *msg,
                                  size_t len);
EVHGO_HIDDEN void evhgo_log(const evh_host_api *api, evh_host *host, evh_log_level level,
                            const void *msg, size_t len);
EVHGO_HIDDEN uint32_t evhgo_stop_requested(const evh_host_api *api, evh_host *host);

/* ABI 1.1, with the 1.0 fallbacks: a 1.0 host commits what it accepts. */
EVHGO_HIDDEN int evhgo_tracks_commits(const evh_host_api *api);
EVHGO_HIDDEN evh_status evhgo_emit_tracked(const evh_host_api *api, evh_host *host,
                                           const void *events, size_t n, uint32_t flags,
                                           uint64_t *ticket);
EVHGO_HIDDEN uint64_t evhgo_committed(const evh_host_api *api, evh_host *host);
EVHGO_HIDDEN evh_status evhgo_wait_committed(const evh_host_api *api, evh_host *host,
                                             uint64_t ticket, uint64_t timeout_ms);

/* ABI 1.1's config accessors, for a config mistake the Go side found (config.go): the host
 * words it and records the key for its caret. Which accessor: EVHGO_CONFIG_*. Answers
 * EVH_ERR_UNSUPPORTED when the host's table has no accessors. */
enum {
    EVHGO_CONFIG_KEYS = 0,
    EVHGO_CONFIG_STRING = 1,
    EVHGO_CONFIG_INT = 2,
    EVHGO_CONFIG_UINT = 3,
    EVHGO_CONFIG_FLOAT = 4,
    EVHGO_CONFIG_BOOL = 5,
    EVHGO_CONFIG_LEN = 6,
};
EVHGO_HIDDEN evh_status evhgo_config_check(const evh_create_args *args, int accessor, const char *path,
                                           const char *const *keys, size_t keys_len);

#endif
