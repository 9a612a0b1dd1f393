package abi

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"errors"
	"unsafe"
)

// The host's config accessors, as config.go's ConfigError names them.
const (
	ConfigKeys   = C.EVHGO_CONFIG_KEYS
	ConfigString = C.EVHGO_CONFIG_STRING
	ConfigInt    = C.EVHGO_CONFIG_INT
	ConfigUint   = C.EVHGO_CONFIG_UINT
	ConfigFloat  = C.EVHGO_CONFIG_FLOAT
	ConfigBool   = C.EVHGO_CONFIG_BOOL
	ConfigLen    = C.EVHGO_CONFIG_LEN
)

// ConfigIssue is a config mistake the public package's DecodeConfig found, in terms of
// the host's config accessors.
type ConfigIssue interface {
	HostAccessor() (accessor int, path string, keys []string, ok bool)
}

// reportConfig asks the host's accessor about a config mistake in err, so that the host
// words it and records the key for its caret; true when the host did.
func reportConfig(args *C.evh_create_args, err error) bool {
	var issue ConfigIssue
	if !errors.As(err, &issue) {
		return false
	}
	accessor, path, keys, ok := issue.HostAccessor()
	if !ok {
		return false
	}
	cPath := C.CString(path)
	defer C.free(unsafe.Pointer(cPath))
	var cKeys **C.char
	if len(keys) > 0 {
		array := C.malloc(C.size_t(len(keys)) * C.size_t(unsafe.Sizeof(uintptr(0))))
		defer C.free(array)
		slots := unsafe.Slice((**C.char)(array), len(keys))
		for i, key := range keys {
			slots[i] = C.CString(key)
			defer C.free(unsafe.Pointer(slots[i]))
		}
		cKeys = (**C.char)(array)
	}
	return C.evhgo_config_check(args, C.int(accessor), cPath, cKeys, C.size_t(len(keys))) == C.EVH_ERR_CONFIG
}
