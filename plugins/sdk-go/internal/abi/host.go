package abi

// #include <stdlib.h>
// #include "shim.h"
import "C"

import "unsafe"

// Host is one instance's way back into the host: its evh_host handle and the API table.
// It is safe for concurrent use, as the host API is.
type Host struct {
	api  *C.evh_host_api
	host *C.evh_host
	// ConfigDir is the folder of the host's config file (absolute), from on_create.
	ConfigDir string
}

// SetError records msg as the reason for the failure the current hook is about to return.
// The host copies it, so passing Go memory for the duration of the call is fine.
func (h Host) SetError(msg string) {
	C.evhgo_set_error(h.api, h.host, unsafe.Pointer(unsafe.StringData(msg)), C.size_t(len(msg)))
}

// Log writes one line to the host's log, attributed to this instance.
func (h Host) Log(level uint32, msg string) {
	C.evhgo_log(h.api, h.host, C.evh_log_level(level), unsafe.Pointer(unsafe.StringData(msg)), C.size_t(len(msg)))
}

// StopRequested reports whether the host has asked this instance to stop.
func (h Host) StopRequested() bool {
	return C.evhgo_stop_requested(h.api, h.host) != 0
}

// Emit hands n events laid out in C memory at events to the host in one call. The events
// must not live in Go memory: they hold pointers, which cgo forbids passing from Go memory.
func (h Host) Emit(events *Event, n int, flags uint32) int32 {
	return int32(C.evhgo_emit(h.api, h.host, unsafe.Pointer(events), C.size_t(n), C.uint32_t(flags)))
}

// Alloc returns size bytes of C memory, or nil when C is out of memory. Free it with Free.
func Alloc(size uintptr) unsafe.Pointer {
	return C.malloc(C.size_t(size))
}

// Free releases memory from Alloc; nil is ignored.
func Free(p unsafe.Pointer) {
	C.free(p)
}
