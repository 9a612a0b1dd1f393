package abi

// #include "shim.h"
import "C"

import "strconv"

// Status codes, log levels, kinds and flags, taken from the header so they cannot drift.
const (
	OK                 = int32(C.EVH_OK)
	Retry              = int32(C.EVH_RETRY)
	Fail               = int32(C.EVH_FAIL)
	Busy               = int32(C.EVH_BUSY)
	Stopped            = int32(C.EVH_STOPPED)
	ErrInvalidArgument = int32(C.EVH_ERR_INVALID_ARGUMENT)
	ErrTooLarge        = int32(C.EVH_ERR_TOO_LARGE)
	ErrConfig          = int32(C.EVH_ERR_CONFIG)
	ErrVersion         = int32(C.EVH_ERR_VERSION)
	ErrInternal        = int32(C.EVH_ERR_INTERNAL)
	ErrUnsupported     = int32(C.EVH_ERR_UNSUPPORTED)

	LogError = uint32(C.EVH_LOG_ERROR)
	LogWarn  = uint32(C.EVH_LOG_WARN)
	LogInfo  = uint32(C.EVH_LOG_INFO)
	LogDebug = uint32(C.EVH_LOG_DEBUG)
	LogTrace = uint32(C.EVH_LOG_TRACE)

	KindProducer = uint32(C.EVH_KIND_PRODUCER)
	KindConsumer = uint32(C.EVH_KIND_CONSUMER)

	EmitBlock    = uint32(C.EVH_EMIT_BLOCK)
	EmitNonblock = uint32(C.EVH_EMIT_NONBLOCK)
	EmitCommit   = uint32(C.EVH_EMIT_COMMIT)
	WaitForever  = uint64(C.EVH_WAIT_FOREVER)

	PluginConcurrent = uint64(C.EVH_PLUGIN_CONCURRENT)
)

// StatusName names a status code as the header does; a value from across the boundary may
// be one this SDK does not know, which reads as "EVH_UNKNOWN(<n>)".
func StatusName(status int32) string {
	switch status {
	case OK:
		return "EVH_OK"
	case Retry:
		return "EVH_RETRY"
	case Fail:
		return "EVH_FAIL"
	case Busy:
		return "EVH_BUSY"
	case Stopped:
		return "EVH_STOPPED"
	case ErrInvalidArgument:
		return "EVH_ERR_INVALID_ARGUMENT"
	case ErrTooLarge:
		return "EVH_ERR_TOO_LARGE"
	case ErrConfig:
		return "EVH_ERR_CONFIG"
	case ErrVersion:
		return "EVH_ERR_VERSION"
	case ErrInternal:
		return "EVH_ERR_INTERNAL"
	case ErrUnsupported:
		return "EVH_ERR_UNSUPPORTED"
	}
	return "EVH_UNKNOWN(" + strconv.Itoa(int(status)) + ")"
}
