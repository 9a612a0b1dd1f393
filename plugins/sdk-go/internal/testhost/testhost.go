// Package testhost is a fake evhost host for the SDK's own tests. It loads the test
// binary's registered plugins through the real C entry point and hooks, exactly as the
// host would, and records what the plugins send back (emits, errors, log lines).
//
// cgo is not allowed in _test.go files, hence a package; it is internal and only tests
// import it, so it never ends up in a plugin library.
package testhost

// #cgo CFLAGS: -I${SRCDIR}/../abi
// #include <stdlib.h>
// #include "fake.h"
import "C"

import (
	"fmt"
	"strings"
	"sync"
	"unsafe"

	_ "github.com/evhost/evhost/plugins/sdk-go/internal/abi" // defines evh_library_init
)

// Event is an event as the fake host saw it, copied into Go memory.
type Event struct {
	StructSize      uint32
	Seq             uint64
	ID              string
	Source          string
	SpecVersion     string
	Type            string
	Subject         string
	DataContentType string
	DataSchema      string
	Time            string
	Data            []byte
	Extensions      [][2]string
}

// Emit is one emit call.
type Emit struct {
	Flags  uint32
	Events []Event
}

// Log is one log line.
type Log struct {
	Level   uint32
	Message string
}

// Host is the fake host side of one instance.
type Host struct {
	mu         sync.Mutex
	c          *C.evh_host
	emits      []Emit
	errors     []string
	logs       []Log
	emitStatus int32
	// The flags of the emits answered with emitStatus.
	refused []uint32
	stop    bool
	// The fake log: the last sequence number handed out, and the commit watermark.
	head, committed uint64
}

// SetCommitted moves the fake log's commit watermark.
func (h *Host) SetCommitted(committed uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.committed = committed
}

// SetEmitStatus makes every later emit answer status (0 accepts and records).
func (h *Host) SetEmitStatus(status int32) { h.mu.Lock(); defer h.mu.Unlock(); h.emitStatus = status }

// SetDiscard makes emit accept events without recording them or calling into Go, so
// benchmarks measure the SDK's side alone.
func (h *Host) SetDiscard(discard bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.c.discard = 0
	if discard {
		h.c.discard = 1
	}
}

// SetStopRequested raises or lowers the host's stop flag for this instance.
func (h *Host) SetStopRequested(stop bool) { h.mu.Lock(); defer h.mu.Unlock(); h.stop = stop }

// Emits returns the emit calls recorded so far.
// Refused returns the flags of the emits SetEmitStatus answered, in order.
func (h *Host) Refused() []uint32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]uint32(nil), h.refused...)
}

func (h *Host) Emits() []Emit {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Emit(nil), h.emits...)
}

// Errors returns the set_error messages recorded so far.
func (h *Host) Errors() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.errors...)
}

// Logs returns the log lines recorded so far.
func (h *Host) Logs() []Log { h.mu.Lock(); defer h.mu.Unlock(); return append([]Log(nil), h.logs...) }

var hosts struct {
	sync.Mutex
	byID map[uint64]*Host
}

func newHost() *Host {
	hosts.Lock()
	defer hosts.Unlock()
	if hosts.byID == nil {
		hosts.byID = map[uint64]*Host{}
	}
	id := uint64(len(hosts.byID) + 1)
	h := &Host{c: (*C.evh_host)(C.calloc(1, C.sizeof_struct_evh_host))}
	h.c.id = C.uint64_t(id)
	hosts.byID[id] = h
	return h
}

func host(id C.uint64_t) *Host {
	hosts.Lock()
	defer hosts.Unlock()
	return hosts.byID[uint64(id)]
}

// Plugin is one plugin as the library described it.
type Plugin struct {
	c           *C.evh_plugin
	Kind        uint32
	Name        string
	Version     string
	Description string
	Flags       uint64
	HasRun      bool
	HasEvents   bool
}

// Library is the result of evh_library_init.
type Library struct {
	StructSize uint32
	AbiMajor   uint32
	AbiMinor   uint32
	Flags      uint64
	Plugins    []Plugin
}

// Load calls evh_library_init with the fake host API.
func Load() (*Library, int32) {
	var lib *C.evh_library
	st := int32(C.evh_library_init(C.testhost_api(), &lib))
	if st != 0 {
		return nil, st
	}
	out := &Library{StructSize: uint32(lib.struct_size), AbiMajor: uint32(lib.abi_major),
		AbiMinor: uint32(lib.abi_minor), Flags: uint64(lib.flags)}
	for _, p := range unsafe.Slice(lib.plugins, lib.plugins_len) {
		out.Plugins = append(out.Plugins, Plugin{c: p, Kind: uint32(p.kind), Name: str(p.name),
			Version: str(p.version), Description: str(p.description), Flags: uint64(p.flags),
			HasRun: p.on_run != nil, HasEvents: p.on_events != nil})
	}
	return out, 0
}

// Instance is one created plugin instance.
type Instance struct {
	plugin *C.evh_plugin
	ptr    unsafe.Pointer
	Host   *Host
}

// Create calls the named plugin's on_create. The Host is returned even on failure, to
// read the error.
func (l *Library) Create(plugin, name, config string) (*Instance, int32) {
	return l.create(plugin, name, config, false)
}

// CreateOn10Host is Create with the API table of an ABI 1.0 host, which has no commit
// entries.
func (l *Library) CreateOn10Host(plugin, name, config string) (*Instance, int32) {
	return l.create(plugin, name, config, true)
}

func (l *Library) create(plugin, name, config string, abi10 bool) (*Instance, int32) {
	v10 := C.int(0)
	if abi10 {
		v10 = 1
	}
	for _, p := range l.Plugins {
		if p.Name != plugin {
			continue
		}
		h := newHost()
		cname, cconfig := C.CString(name), C.CString(config)
		defer C.free(unsafe.Pointer(cname))
		defer C.free(unsafe.Pointer(cconfig))
		var ptr unsafe.Pointer
		st := int32(C.testhost_create(p.c, h.c, cname, C.size_t(len(name)), cconfig, C.size_t(len(config)), v10, &ptr))
		return &Instance{plugin: p.c, ptr: ptr, Host: h}, st
	}
	panic(fmt.Sprintf("testhost: no plugin %q", plugin))
}

// OnEvents delivers events (their Seq as given) in one on_events call, from C memory.
func (i *Instance) OnEvents(events []Event) (status int32, handled int) {
	var allocs []unsafe.Pointer
	defer func() {
		for _, p := range allocs {
			C.free(p)
		}
	}()
	cstr := func(s string) C.evh_str {
		if s == "" {
			return C.evh_str{}
		}
		p := C.CBytes([]byte(s))
		allocs = append(allocs, p)
		return C.evh_str{ptr: (*C.uint8_t)(p), len: C.size_t(len(s))}
	}
	evs := unsafe.Slice((*C.evh_event)(C.calloc(C.size_t(len(events)), C.sizeof_evh_event)), len(events))
	ptrs := unsafe.Slice((**C.evh_event)(C.calloc(C.size_t(len(events)), C.size_t(unsafe.Sizeof(uintptr(0))))), len(events))
	allocs = append(allocs, unsafe.Pointer(&evs[0]), unsafe.Pointer(&ptrs[0]))
	for k, e := range events {
		c := &evs[k]
		c.struct_size = C.sizeof_evh_event
		c.seq = C.uint64_t(e.Seq)
		c.id, c.source, c.specversion, c._type = cstr(e.ID), cstr(e.Source), cstr(e.SpecVersion), cstr(e.Type)
		c.subject, c.datacontenttype, c.dataschema, c.time = cstr(e.Subject), cstr(e.DataContentType), cstr(e.DataSchema), cstr(e.Time)
		d := cstr(string(e.Data))
		c.data = C.evh_bytes{ptr: d.ptr, len: d.len}
		if len(e.Extensions) > 0 {
			attrs := unsafe.Slice((*C.evh_attr)(C.calloc(C.size_t(len(e.Extensions)), C.sizeof_evh_attr)), len(e.Extensions))
			allocs = append(allocs, unsafe.Pointer(&attrs[0]))
			for j, kv := range e.Extensions {
				attrs[j] = C.evh_attr{key: cstr(kv[0]), value: cstr(kv[1])}
			}
			c.extensions, c.extensions_len = &attrs[0], C.size_t(len(attrs))
		}
		ptrs[k] = c
	}
	var h C.size_t
	st := int32(C.testhost_events(i.plugin, i.ptr, &ptrs[0], C.size_t(len(events)), &h))
	return st, int(h)
}

// Run calls on_run.
func (i *Instance) Run() int32 { return int32(C.testhost_run(i.plugin, i.ptr)) }

// OnCommitted calls on_committed, as the host's notifier thread would.
func (i *Instance) OnCommitted(committed uint64) {
	C.testhost_committed(i.plugin, i.ptr, C.uint64_t(committed))
}

// Stop calls on_stop.
func (i *Instance) Stop() { C.testhost_stop(i.plugin, i.ptr) }

// Destroy calls on_destroy.
func (i *Instance) Destroy() { C.testhost_destroy(i.plugin, i.ptr) }

//export testhostEmit
func testhostEmit(id C.uint64_t, events *C.evh_event, n C.size_t, flags C.uint32_t) C.evh_status {
	h := host(id)
	e := Emit{Flags: uint32(flags)}
	step := uintptr(events.struct_size)
	for k := uintptr(0); k < uintptr(n); k++ {
		c := (*C.evh_event)(unsafe.Add(unsafe.Pointer(events), k*step))
		ev := Event{StructSize: uint32(c.struct_size), Seq: uint64(c.seq), ID: str(c.id), Source: str(c.source),
			SpecVersion: str(c.specversion), Type: str(c._type), Subject: str(c.subject),
			DataContentType: str(c.datacontenttype), DataSchema: str(c.dataschema), Time: str(c.time),
			Data: []byte(str(C.evh_str(c.data)))}
		if c.extensions_len > 0 {
			for _, a := range unsafe.Slice(c.extensions, c.extensions_len) {
				ev.Extensions = append(ev.Extensions, [2]string{str(a.key), str(a.value)})
			}
		}
		e.Events = append(e.Events, ev)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.emitStatus != 0 {
		h.refused = append(h.refused, e.Flags)
		return C.evh_status(h.emitStatus)
	}
	h.emits = append(h.emits, e)
	h.head += uint64(len(e.Events))
	return 0
}

//export testhostEmitTracked
func testhostEmitTracked(id C.uint64_t, events *C.evh_event, n C.size_t, flags C.uint32_t, ticket *C.uint64_t) C.evh_status {
	var st C.evh_status
	if n > 0 {
		st = testhostEmit(id, events, n, flags)
	}
	h := host(id)
	h.mu.Lock()
	defer h.mu.Unlock()
	if st == 0 {
		*ticket = C.uint64_t(h.head)
		if n == 0 {
			*ticket = C.uint64_t(h.committed)
		}
	}
	return st
}

//export testhostCommitted
func testhostCommitted(id C.uint64_t) C.uint64_t {
	h := host(id)
	h.mu.Lock()
	defer h.mu.Unlock()
	return C.uint64_t(h.committed)
}

//export testhostSetError
func testhostSetError(id C.uint64_t, msg *C.uint8_t, n C.size_t) {
	h := host(id)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.errors = append(h.errors, C.GoStringN((*C.char)(unsafe.Pointer(msg)), C.int(n)))
}

//export testhostLog
func testhostLog(id C.uint64_t, level C.evh_log_level, msg *C.uint8_t, n C.size_t) {
	h := host(id)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.logs = append(h.logs, Log{Level: uint32(level), Message: C.GoStringN((*C.char)(unsafe.Pointer(msg)), C.int(n))})
}

//export testhostStopRequested
func testhostStopRequested(id C.uint64_t) C.uint32_t {
	h := host(id)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stop {
		return 1
	}
	return 0
}

// str copies an evh_str into a Go string.
func str(s C.evh_str) string {
	if s.len == 0 {
		return ""
	}
	return strings.Clone(unsafe.String((*byte)(unsafe.Pointer(s.ptr)), int(s.len)))
}
