package abi

// #include <stdlib.h>
// #include <string.h>
// #include "shim.h"
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// Plugin is one registered plugin as the C layer sees it.
type Plugin struct {
	Kind        uint32
	Name        string
	Version     string
	Description string
	Flags       uint64
	// Create makes an instance; it must implement ConsumerInstance or ProducerInstance to
	// match Kind. An error becomes set_error(err) and EVH_ERR_CONFIG.
	Create func(host Host, instanceName string, config []byte) (any, error)
}

// Lifecycle is what every instance has, whatever its kind.
type Lifecycle interface {
	// RequestStop is the SDK's part of on_stop (the Context sees the stop); it runs even
	// when Stop, the plugin's part, is not called because the instance panicked before.
	RequestStop()
	Stop()
	// Destroy releases what the SDK holds for the instance; it calls no plugin code.
	Destroy()
}

// ConsumerInstance is what a consumer's Create returns.
type ConsumerInstance interface {
	Lifecycle
	// OnEvents handles the n events at events (the host's array, valid during the call)
	// and answers a status and, for EVH_RETRY and EVH_FAIL, how many leading events were
	// handled.
	OnEvents(events **Event, n int) (status int32, handled int)
}

// ProducerInstance is what a producer's Create returns.
type ProducerInstance interface {
	Lifecycle
	Run() int32
	// OnCommitted is the plugin's part of on_committed (ABI 1.1), after the SDK's.
	OnCommitted(committed uint64)
}

var registry struct {
	mu      sync.Mutex
	plugins []Plugin
	errs    []error
	lib     *C.evh_library
}

// Register adds a plugin to the library description. It must run before the host calls
// evh_library_init, that is from an init function. Mistakes are remembered, not panicked
// on: a panic during init would take the host process down while it loads the library;
// instead evh_library_init fails and names every mistake.
func Register(p Plugin) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	fail := func(format string, args ...any) {
		registry.errs = append(registry.errs, fmt.Errorf(format, args...))
	}
	switch {
	case registry.lib != nil:
		fail("plugin %q registered after the host loaded the library; call Register from an init function", p.Name)
	case p.Name == "":
		fail("a plugin was registered without a name")
	case p.Create == nil:
		fail("plugin %q was registered with a nil factory", p.Name)
	default:
		for _, q := range registry.plugins {
			if q.Name == p.Name {
				fail("plugin %q is registered twice; names are unique within a library", p.Name)
				return
			}
		}
		registry.plugins = append(registry.plugins, p)
	}
}

func plugin(slot int) *Plugin {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	return &registry.plugins[slot]
}

// library builds the library description in C memory on first use. It is never freed:
// the host never unloads a Go library.
func library() (*C.evh_library, error) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.lib != nil {
		return registry.lib, nil
	}
	if len(registry.errs) > 0 {
		return nil, errors.Join(registry.errs...)
	}
	if len(registry.plugins) == 0 {
		return nil, errors.New("no plugins registered; import the packages that call evhost.RegisterConsumer or evhost.RegisterProducer")
	}
	n := len(registry.plugins)
	mem := C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof((*C.evh_plugin)(nil))))
	if mem == nil {
		return nil, errors.New("out of memory")
	}
	ptrs := unsafe.Slice((**C.evh_plugin)(mem), n)
	for i, p := range registry.plugins {
		ptrs[i] = C.evhgo_new_plugin(C.int(i), C.evh_kind(p.Kind), cString(p.Name), cString(p.Version), cString(p.Description), C.uint64_t(p.Flags))
		if ptrs[i] == nil {
			return nil, errors.New("out of memory")
		}
	}
	lib := (*C.evh_library)(C.calloc(1, C.sizeof_evh_library))
	if lib == nil {
		return nil, errors.New("out of memory")
	}
	lib.struct_size = C.sizeof_evh_library
	lib.abi_major = C.EVH_ABI_VERSION_MAJOR
	lib.abi_minor = C.EVH_ABI_VERSION_MINOR
	lib.flags = C.EVH_LIBRARY_GO_RUNTIME
	lib.plugins = &ptrs[0]
	lib.plugins_len = C.size_t(n)
	registry.lib = lib
	return lib, nil
}

// cString copies s into C memory that lives as long as the library, i.e. forever.
func cString(s string) C.evh_str {
	if s == "" {
		return C.evh_str{}
	}
	p := C.malloc(C.size_t(len(s)))
	if p == nil {
		return C.evh_str{}
	}
	C.memcpy(p, unsafe.Pointer(unsafe.StringData(s)), C.size_t(len(s)))
	return C.evh_str{ptr: (*C.uint8_t)(p), len: C.size_t(len(s))}
}
