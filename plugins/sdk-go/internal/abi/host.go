package abi

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"sync"
	"unsafe"
)

// closed is a channel that is already closed: the answer for a commit that already came.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

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

	commits commits
}

// commits is what the on_committed hook (ABI 1.1) wakes: channels waiting for a ticket.
type commits struct {
	mu sync.Mutex
	// seen is the highest value on_committed gave.
	seen    uint64
	waiting []waiter
	// ended: the instance is gone; every channel is closed.
	ended bool
}

type waiter struct {
	ticket uint64
	done   chan struct{}
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

// Close forgets the handle; on_destroy calls it after the instance's Destroy. Channels
// still waiting for a commit are closed: their tickets end as stopped.
func (h Host) Close() {
	h.cell.mu.Lock()
	h.cell.host = nil
	h.cell.mu.Unlock()
	c := &h.cell.commits
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended = true
	for _, w := range c.waiting {
		close(w.done)
	}
	c.waiting = nil
}

// EmitTracked is Emit with emit_tracked (ABI 1.1): the status and, on OK, the ticket (the
// sequence number of the batch's last event; 0 from a 1.0 host, which does not track).
func (h Host) EmitTracked(events *Event, n int, flags uint32) (int32, uint64) {
	status, ticket := Stopped, C.uint64_t(0)
	h.with(func(api *C.evh_host_api, host *C.evh_host) {
		status = int32(C.evhgo_emit_tracked(api, host, unsafe.Pointer(events), C.size_t(n), C.uint32_t(flags), &ticket))
	})
	return status, uint64(ticket)
}

// Committed is the host's commit watermark (every sequence number up to it is committed);
// the maximum from a 1.0 host, whose accepted events are committed. false once the
// instance is gone.
func (h Host) Committed() (uint64, bool) {
	var committed uint64
	ok := h.with(func(api *C.evh_host_api, host *C.evh_host) { committed = uint64(C.evhgo_committed(api, host)) })
	return committed, ok
}

// IsCommitted reports whether ticket is committed, by the host's watermark or, once the
// instance is gone, by the last on_committed value.
func (h Host) IsCommitted(ticket uint64) bool {
	if committed, ok := h.Committed(); ok {
		return committed >= ticket
	}
	c := &h.cell.commits
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen >= ticket
}

// WaitCommitted blocks until ticket is committed (OK), timeoutMs passes (Busy) or the host
// stops (Stopped); Stopped once the instance is gone.
func (h Host) WaitCommitted(ticket, timeoutMs uint64) int32 {
	status := Stopped
	h.with(func(api *C.evh_host_api, host *C.evh_host) {
		status = int32(C.evhgo_wait_committed(api, host, C.uint64_t(ticket), C.uint64_t(timeoutMs)))
	})
	return status
}

// CommitDone returns a channel that is closed once ticket is committed or the instance is
// gone. on_committed closes it; nothing blocks.
func (h Host) CommitDone(ticket uint64) <-chan struct{} {
	c := &h.cell.commits
	// Under the lock on_committed takes: a commit cannot fall between the look at the
	// watermark and the registration.
	c.mu.Lock()
	defer c.mu.Unlock()
	if committed, ok := h.Committed(); c.ended || !ok || committed >= ticket || c.seen >= ticket {
		return closed
	}
	done := make(chan struct{})
	c.waiting = append(c.waiting, waiter{ticket: ticket, done: done})
	return done
}

// committedUpTo is the SDK's part of on_committed: it closes the channels of every ticket
// up to committed.
func (h Host) committedUpTo(committed uint64) {
	c := &h.cell.commits
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = max(c.seen, committed)
	keep := c.waiting[:0]
	for _, w := range c.waiting {
		if w.ticket <= committed {
			close(w.done)
		} else {
			keep = append(keep, w)
		}
	}
	clear(c.waiting[len(keep):])
	c.waiting = keep
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
