// Package abi is the Go SDK's only cgo package: it defines evh_library_init, the C
// trampolines every hook points to, the calls into the host API table, and Go mirrors of
// the header's event structs so the public package can read and write them without cgo.
//
// Nothing here is for plugin authors; the public package evhost wraps it in plain Go.
package abi

import "unsafe"

// Str mirrors evh_str: a borrowed UTF-8 view, not NUL-terminated.
type Str struct {
	Ptr *byte
	Len uintptr
}

// Bytes mirrors evh_bytes.
type Bytes struct {
	Ptr *byte
	Len uintptr
}

// Attr mirrors evh_attr, one CloudEvents extension attribute.
type Attr struct {
	Key   Str
	Value Str
}

// Event mirrors evh_event. layout.go checks at compile time that every field sits at the
// same offset as in the C struct, so a *Event may point straight into the host's memory.
type Event struct {
	StructSize      uint32
	Reserved        uint32
	Seq             uint64
	ID              Str
	Source          Str
	SpecVersion     Str
	Type            Str
	Subject         Str
	DataContentType Str
	DataSchema      Str
	Time            Str
	Data            Bytes
	Extensions      *Attr
	ExtensionsLen   uintptr
}

// Sizes of the mirrored structs, for laying out an emit batch in C memory.
const (
	EventSize = unsafe.Sizeof(Event{})
	AttrSize  = unsafe.Sizeof(Attr{})
)

// RawStr, RawAttr and RawEvent are Str, Attr and Event with their pointers held as
// uintptr, for writing emit batches into C memory. Storing a typed pointer costs a GC
// write-barrier check per field; these pointers only ever point into C memory, which the
// GC ignores, so the emitter stores plain integers instead.
type (
	RawStr struct {
		Ptr uintptr
		Len uintptr
	}
	RawAttr struct {
		Key   RawStr
		Value RawStr
	}
	RawEvent struct {
		StructSize      uint32
		Reserved        uint32
		Seq             uint64
		ID              RawStr
		Source          RawStr
		SpecVersion     RawStr
		Type            RawStr
		Subject         RawStr
		DataContentType RawStr
		DataSchema      RawStr
		Time            RawStr
		Data            RawStr
		Extensions      uintptr
		ExtensionsLen   uintptr
	}
)
