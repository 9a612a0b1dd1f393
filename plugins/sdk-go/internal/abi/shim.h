/* The C half of package abi, shared by the cgo preambles and shim.c. */
#ifndef EVHGO_SHIM_H
#define EVHGO_SHIM_H

#include <stdint.h>
#include "evhost.h"

#define EVHGO_HIDDEN __attribute__((visibility("hidden")))

EVHGO_HIDDEN evh_plugin *evhgo_new_plugin(int slot, evh_kind kind, evh_str name, evh_str version,
                                          evh_str description, uint64_t flags);

EVHGO_HIDDEN evh_status evhgo_emit(const evh_host_api *api, evh_host *host, const void *events,
                                   size_t n, uint32_t flags);
EVHGO_HIDDEN void evhgo_set_error(const evh_host_api *api, evh_host *host, const void *msg,
                                  size_t len);
EVHGO_HIDDEN void evhgo_log(const evh_host_api *api, evh_host *host, evh_log_level level,
                            const void *msg, size_t len);
EVHGO_HIDDEN uint32_t evhgo_stop_requested(const evh_host_api *api, evh_host *host);

#endif
