package abi

// #include "evhost.h"
import "C"

import "unsafe"

var (
	cEvent C.evh_event
	gEvent Event
	cAttr  C.evh_attr
	gAttr  Attr
	cStr   C.evh_str
	gStr   Str
	rEvent RawEvent
	rAttr  RawAttr
)

// Compile-time layout checks: each constant is the difference of two offsets in both
// directions; a uintptr constant cannot be negative, so any mismatch fails the build.
const (
	_ = unsafe.Sizeof(cEvent) - unsafe.Sizeof(gEvent)
	_ = unsafe.Sizeof(gEvent) - unsafe.Sizeof(cEvent)
	_ = unsafe.Sizeof(cAttr) - unsafe.Sizeof(gAttr)
	_ = unsafe.Sizeof(gAttr) - unsafe.Sizeof(cAttr)
	_ = unsafe.Sizeof(cStr) - unsafe.Sizeof(gStr)
	_ = unsafe.Sizeof(gStr) - unsafe.Sizeof(cStr)

	_ = unsafe.Sizeof(cEvent) - unsafe.Sizeof(rEvent)
	_ = unsafe.Sizeof(rEvent) - unsafe.Sizeof(cEvent)
	_ = unsafe.Sizeof(cAttr) - unsafe.Sizeof(rAttr)
	_ = unsafe.Sizeof(rAttr) - unsafe.Sizeof(cAttr)
	_ = unsafe.Offsetof(cEvent.extensions) - unsafe.Offsetof(rEvent.Extensions)
	_ = unsafe.Offsetof(rEvent.Extensions) - unsafe.Offsetof(cEvent.extensions)
	_ = unsafe.Offsetof(cEvent.data) - unsafe.Offsetof(rEvent.Data)
	_ = unsafe.Offsetof(rEvent.Data) - unsafe.Offsetof(cEvent.data)

	_ = unsafe.Offsetof(cStr.len) - unsafe.Offsetof(gStr.Len)
	_ = unsafe.Offsetof(gStr.Len) - unsafe.Offsetof(cStr.len)
	_ = unsafe.Offsetof(cAttr.value) - unsafe.Offsetof(gAttr.Value)
	_ = unsafe.Offsetof(gAttr.Value) - unsafe.Offsetof(cAttr.value)

	_ = unsafe.Offsetof(cEvent.seq) - unsafe.Offsetof(gEvent.Seq)
	_ = unsafe.Offsetof(gEvent.Seq) - unsafe.Offsetof(cEvent.seq)
	_ = unsafe.Offsetof(cEvent.id) - unsafe.Offsetof(gEvent.ID)
	_ = unsafe.Offsetof(gEvent.ID) - unsafe.Offsetof(cEvent.id)
	_ = unsafe.Offsetof(cEvent.source) - unsafe.Offsetof(gEvent.Source)
	_ = unsafe.Offsetof(gEvent.Source) - unsafe.Offsetof(cEvent.source)
	_ = unsafe.Offsetof(cEvent.specversion) - unsafe.Offsetof(gEvent.SpecVersion)
	_ = unsafe.Offsetof(gEvent.SpecVersion) - unsafe.Offsetof(cEvent.specversion)
	_ = unsafe.Offsetof(cEvent._type) - unsafe.Offsetof(gEvent.Type)
	_ = unsafe.Offsetof(gEvent.Type) - unsafe.Offsetof(cEvent._type)
	_ = unsafe.Offsetof(cEvent.subject) - unsafe.Offsetof(gEvent.Subject)
	_ = unsafe.Offsetof(gEvent.Subject) - unsafe.Offsetof(cEvent.subject)
	_ = unsafe.Offsetof(cEvent.datacontenttype) - unsafe.Offsetof(gEvent.DataContentType)
	_ = unsafe.Offsetof(gEvent.DataContentType) - unsafe.Offsetof(cEvent.datacontenttype)
	_ = unsafe.Offsetof(cEvent.dataschema) - unsafe.Offsetof(gEvent.DataSchema)
	_ = unsafe.Offsetof(gEvent.DataSchema) - unsafe.Offsetof(cEvent.dataschema)
	_ = unsafe.Offsetof(cEvent.time) - unsafe.Offsetof(gEvent.Time)
	_ = unsafe.Offsetof(gEvent.Time) - unsafe.Offsetof(cEvent.time)
	_ = unsafe.Offsetof(cEvent.data) - unsafe.Offsetof(gEvent.Data)
	_ = unsafe.Offsetof(gEvent.Data) - unsafe.Offsetof(cEvent.data)
	_ = unsafe.Offsetof(cEvent.extensions) - unsafe.Offsetof(gEvent.Extensions)
	_ = unsafe.Offsetof(gEvent.Extensions) - unsafe.Offsetof(cEvent.extensions)
	_ = unsafe.Offsetof(cEvent.extensions_len) - unsafe.Offsetof(gEvent.ExtensionsLen)
	_ = unsafe.Offsetof(gEvent.ExtensionsLen) - unsafe.Offsetof(cEvent.extensions_len)
)
