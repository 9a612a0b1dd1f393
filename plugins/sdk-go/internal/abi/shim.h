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

#endif
