package abi

// #include "shim.h"
import "C"

import (
	"fmt"
	"os"
	"runtime/cgo"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"unsafe"
)

// The Go side of every hook. shim.c holds the C symbols the host calls; each forwards
// here. Every function recovers panics: a Go panic must never unwind into the host.
//
// After a panic the instance is poisoned, as Envoy's SDK does it: the plugin's state may
// be half-updated, so no later hook calls the plugin again. OnEvents and Run fail with
// EVH_ERR_INTERNAL and a message naming the first panic; Stop logs it. on_destroy still
// releases the instance (its handle, and the emitter's C memory); the garbage collector
// takes the rest, as it would have.

// instance is what the host's void *instance points at, through a cgo.Handle.
type instance struct {
	host     Host
	consumer ConsumerInstance
	producer ProducerInstance
	// panicked is the first panic out of the plugin, as "<hook>: <value>". Atomic: a
	// producer's on_stop runs beside its on_run.
	panicked atomic.Pointer[string]
}

// lifecycle is the part of either kind of instance that on_stop and on_destroy call.
func (inst *instance) lifecycle() Lifecycle {
	if inst.consumer != nil {
		return inst.consumer
	}
	return inst.producer
}

// notCalled says why the plugin is not called for hook, or "" when it may be.
func (inst *instance) notCalled(hook string) string {
	if first := inst.panicked.Load(); first != nil {
		return fmt.Sprintf("%s not called: the instance panicked earlier (in %s) and is never called again", hook, *first)
	}
	return ""
}

// poison records a panic; only the first one is kept.
func (inst *instance) poison(hook string, r any) {
	first := fmt.Sprintf("%s: %v", hook, r)
	inst.panicked.CompareAndSwap(nil, &first)
}

// recoverStatus is the package's recoverStatus that also poisons the instance.
func (inst *instance) recoverStatus(hook string, status *C.evh_status) {
	if r := recover(); r != nil {
		inst.poison(hook, r)
		failClosed(inst.host, hook, r, status)
	}
}

// recoverLog is the package's recoverLog that also poisons the instance.
func (inst *instance) recoverLog(hook string) {
	if r := recover(); r != nil {
		inst.poison(hook, r)
		logPanic(inst.host, hook, r)
	}
}

//export evhgoLibraryInit
func evhgoLibraryInit(api *C.evh_host_api, out **C.evh_library) (status C.evh_status) {
	// evh_library_init has no host handle to report through, so stderr is all there is.
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "evhost Go SDK: panic in evh_library_init: %v\n", r)
			status = C.EVH_ERR_INTERNAL
		}
	}()
	if api == nil || out == nil {
		return C.EVH_ERR_INVALID_ARGUMENT
	}
	// A 1.0 host is welcome: the 1.1 entries are read only when its table has them.
	if api.struct_size < C.EVHGO_HOST_API_SIZE_1_0 {
		fmt.Fprintf(os.Stderr, "evhost Go SDK: the host's API table has %d bytes, this SDK needs %d\n", api.struct_size, C.EVHGO_HOST_API_SIZE_1_0)
		return C.EVH_ERR_VERSION
	}
	if api.abi_major != C.EVH_ABI_VERSION_MAJOR {
		fmt.Fprintf(os.Stderr, "evhost Go SDK: built for ABI %d.x, the host speaks %d.%d\n", C.EVH_ABI_VERSION_MAJOR, api.abi_major, api.abi_minor)
		return C.EVH_ERR_VERSION
	}
	lib, err := library()
	if err != nil {
		fmt.Fprintf(os.Stderr, "evhost Go SDK: cannot describe this library: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
		return C.EVH_ERR_INVALID_ARGUMENT
	}
	*out = lib
	return C.EVH_OK
}

//export evhgoOnCreate
func evhgoOnCreate(slot C.int, args *C.evh_create_args, out *C.uintptr_t) (status C.evh_status) {
	if args == nil || out == nil || args.struct_size < C.sizeof_evh_create_args || args.api == nil {
		return C.EVH_ERR_INVALID_ARGUMENT
	}
	host := newHost(args.api, args.host)
	// A failed create leaves no instance: what the factory kept of the host goes dead.
	// (Deferred first, so it runs last, after a panic became the status.)
	defer func() {
		if status != C.EVH_OK {
			host.Close()
		}
	}()
	defer recoverStatus(host, "on_create", &status)
	p := plugin(int(slot))
	name := strings.Clone(goString(args.instance_name))
	config := []byte(goString(args.config_json))
	host.ConfigDir = strings.Clone(goString(args.config_dir))
	impl, err := p.Create(host, name, config)
	if err != nil {
		// A config mistake the host's accessors can report is worded by the host, with
		// the key for its caret; anything else is the plugin's message.
		if !reportConfig(args, err) {
			host.SetError(err.Error())
		}
		return C.EVH_ERR_CONFIG
	}
	inst := &instance{host: host}
	switch p.Kind {
	case KindConsumer:
		inst.consumer, _ = impl.(ConsumerInstance)
	case KindProducer:
		inst.producer, _ = impl.(ProducerInstance)
	}
	if inst.consumer == nil && inst.producer == nil {
		host.SetError(fmt.Sprintf("plugin %q: the factory returned %T, which does not fit its kind", p.Name, impl))
		return C.EVH_ERR_INTERNAL
	}
	*out = C.uintptr_t(cgo.NewHandle(inst))
	return C.EVH_OK
}

//export evhgoOnEvents
func evhgoOnEvents(h C.uintptr_t, events unsafe.Pointer, n C.size_t, handled *C.size_t) (status C.evh_status) {
	inst := lookup(h)
	if inst == nil || inst.consumer == nil || events == nil {
		return C.EVH_ERR_INVALID_ARGUMENT
	}
	defer inst.recoverStatus("on_events", &status)
	if why := inst.notCalled("on_events"); why != "" {
		inst.host.SetError(why)
		return C.EVH_ERR_INTERNAL
	}
	st, done := inst.consumer.OnEvents((**Event)(events), int(n))
	if st != OK && handled != nil {
		*handled = C.size_t(done)
	}
	return C.evh_status(st)
}

//export evhgoOnRun
func evhgoOnRun(h C.uintptr_t) (status C.evh_status) {
	inst := lookup(h)
	if inst == nil || inst.producer == nil {
		return C.EVH_ERR_INVALID_ARGUMENT
	}
	defer inst.recoverStatus("on_run", &status)
	if why := inst.notCalled("on_run"); why != "" {
		inst.host.SetError(why)
		return C.EVH_ERR_INTERNAL
	}
	return C.evh_status(inst.producer.Run())
}

//export evhgoOnCommitted
func evhgoOnCommitted(h C.uintptr_t, committed C.uint64_t) {
	inst := lookup(h)
	if inst == nil || inst.producer == nil {
		return
	}
	// The SDK's own part first: tickets waiting for this commit are done.
	inst.host.committedUpTo(uint64(committed))
	defer inst.recoverLog("on_committed")
	if inst.notCalled("on_committed") != "" {
		return
	}
	inst.producer.OnCommitted(uint64(committed))
}

//export evhgoOnStop
func evhgoOnStop(h C.uintptr_t) {
	inst := lookup(h)
	if inst == nil {
		return
	}
	// The SDK's own part (Context.Done) happens either way: goroutines waiting on it end.
	inst.lifecycle().RequestStop()
	defer inst.recoverLog("on_stop")
	if why := inst.notCalled("on_stop"); why != "" {
		inst.host.Log(LogError, why)
		return
	}
	inst.lifecycle().Stop()
}

//export evhgoOnDestroy
func evhgoOnDestroy(h C.uintptr_t) {
	inst := lookup(h)
	if inst == nil {
		return
	}
	defer cgo.Handle(h).Delete()
	defer inst.host.Close()
	defer recoverLog(inst.host, "on_destroy")
	inst.lifecycle().Destroy()
}

// lookup turns the host's instance pointer back into the instance, or nil when it is not
// a live handle (cgo.Handle.Value panics on those).
func lookup(h C.uintptr_t) (inst *instance) {
	defer func() {
		if recover() != nil {
			inst = nil
		}
	}()
	if h == 0 {
		return nil
	}
	inst, _ = cgo.Handle(h).Value().(*instance)
	return inst
}

// recoverStatus fails a hook closed: a panic becomes set_error("panic: ...") and
// EVH_ERR_INTERNAL, with the stack in the host's debug log.
func recoverStatus(host Host, hook string, status *C.evh_status) {
	if r := recover(); r != nil {
		failClosed(host, hook, r, status)
	}
}

// recoverLog is recoverStatus for hooks that return nothing: the panic is logged.
func recoverLog(host Host, hook string) {
	if r := recover(); r != nil {
		logPanic(host, hook, r)
	}
}

func failClosed(host Host, hook string, r any, status *C.evh_status) {
	host.Log(LogDebug, fmt.Sprintf("panic in %s: %v\n%s", hook, r, debug.Stack()))
	host.SetError(fmt.Sprintf("panic: %v", r))
	*status = C.EVH_ERR_INTERNAL
}

func logPanic(host Host, hook string, r any) {
	host.Log(LogError, fmt.Sprintf("panic in %s: %v", hook, r))
	host.Log(LogDebug, string(debug.Stack()))
}

// goString views an evh_str as a Go string without copying; copy it before keeping it.
func goString(s C.evh_str) string {
	if s.len == 0 || s.ptr == nil {
		return ""
	}
	return unsafe.String((*byte)(unsafe.Pointer(s.ptr)), int(s.len))
}
