package abi

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"sync"
	"unsafe"
)

// Host is one instance's way back into the host: its evh_host handle and the API table.
// It is safe for concurrent use, as the host API is. Copies share one handle, which Close
// forgets at on_destroy: a goroutine that outlives its instance then logs nothing, sees a
// stop and cannot emit, instead of touching a freed handle.
type Host struct {
	cell *hostCell
	// ConfigDir is the folder of the host's config file (absolute), from on_create.
	ConfigDir string
}

type hostCell struct {
	mu   sync.RWMutex
	api  *C.evh_host_api
	host *C.evh_host // nil once closed
}

func newHost(api *C.evh_host_api, host *C.evh_host) Host {
	return Host{cell: &hostCell{api: api, host: host}}
}

// with calls f with the live handle; false once the instance is gone.
func (h Host) with(f func(api *C.evh_host_api, host *C.evh_host)) bool {
	h.cell.mu.RLock()
	defer h.cell.mu.RUnlock()
	if h.cell.host == nil {
		return false
	}
	f(h.cell.api, h.cell.host)
	return true
}

// Close forgets the handle; on_destroy calls it after the instance's Destroy.
func (h Host) Close() {
	h.cell.mu.Lock()
	defer h.cell.mu.Unlock()
	h.cell.host = nil
}

// SetError records msg as the reason for the failure the current hook is about to return.
// The host copies it, so passing Go memory for the duration of the call is fine.
func (h Host) SetError(msg string) {
	h.with(func(api *C.evh_host_api, host *C.evh_host) {
		C.evhgo_set_error(api, host, unsafe.Pointer(unsafe.StringData(msg)), C.size_t(len(msg)))
	})
}

// Log writes one line to the host's log, attributed to this instance.
func (h Host) Log(level uint32, msg string) {
	h.with(func(api *C.evh_host_api, host *C.evh_host) {
		C.evhgo_log(api, host, C.evh_log_level(level), unsafe.Pointer(unsafe.StringData(msg)), C.size_t(len(msg)))
	})
}

// StopRequested reports whether the host has asked this instance to stop (true once the
// instance is gone).
func (h Host) StopRequested() bool {
	stop := true
	h.with(func(api *C.evh_host_api, host *C.evh_host) { stop = C.evhgo_stop_requested(api, host) != 0 })
	return stop
}

// Emit hands n events laid out in C memory at events to the host in one call; Stopped
// once the instance is gone. The events must not live in Go memory: they hold pointers,
// which cgo forbids passing from Go memory.
func (h Host) Emit(events *Event, n int, flags uint32) int32 {
	status := Stopped
	h.with(func(api *C.evh_host_api, host *C.evh_host) {
		status = int32(C.evhgo_emit(api, host, unsafe.Pointer(events), C.size_t(n), C.uint32_t(flags)))
	})
	return status
}

// Alloc returns size bytes of C memory, or nil when C is out of memory. Free it with Free.
func Alloc(size uintptr) unsafe.Pointer {
	return C.malloc(C.size_t(size))
}

// Free releases memory from Alloc; nil is ignored.
func Free(p unsafe.Pointer) {
	C.free(p)
}
