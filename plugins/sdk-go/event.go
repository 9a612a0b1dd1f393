package evhost

import (
	"unsafe"

	"github.com/evhost/evhost/plugins/sdk-go/internal/abi"
)

// Batch is the events of one OnEvents call, in log order. It is a view of the host's
// memory: it and every Event it gives are valid only until OnEvents returns.
type Batch struct {
	events []*abi.Event
}

// Len is the number of events in the batch, at least 1.
func (b Batch) Len() int { return len(b.events) }

// At returns the i-th event, 0 <= i < Len(). It copies nothing.
func (b Batch) At(i int) Event { return Event{b.events[i]} }

// Event is a zero-copy view of one event in the host's memory, CloudEvents 1.0 in shape.
//
// Every string and byte slice it returns points into the host's memory and is valid only
// until the OnEvents call that delivered the event returns. Do not keep them, send them
// to another goroutine or modify Data: copy what you keep with Clone, strings.Clone or
// bytes.Clone. Optional attributes that are absent read as "".
type Event struct {
	e *abi.Event
}

// Seq is the host-assigned sequence number, strictly increasing in log order.
func (e Event) Seq() uint64 { return e.e.Seq }

// ID is the event id; unique per Source.
func (e Event) ID() string { return view(e.e.ID) }

// Source identifies the context in which the event happened (a URI reference).
func (e Event) Source() string { return view(e.e.Source) }

// SpecVersion is the CloudEvents version, "1.0" when the producer left it empty.
func (e Event) SpecVersion() string {
	if e.e.SpecVersion.Len == 0 {
		return "1.0"
	}
	return view(e.e.SpecVersion)
}

// Type is the event type, such as "com.example.object.created".
func (e Event) Type() string { return view(e.e.Type) }

// Subject is the subject of the event within its source; optional.
func (e Event) Subject() string { return view(e.e.Subject) }

// DataContentType is the media type of Data; optional.
func (e Event) DataContentType() string { return view(e.e.DataContentType) }

// DataSchema is the URI of Data's schema; optional.
func (e Event) DataSchema() string { return view(e.e.DataSchema) }

// Time is the RFC 3339 timestamp of the occurrence as the producer wrote it; optional.
// Parse it with time.Parse(time.RFC3339Nano, ...).
func (e Event) Time() string { return view(e.e.Time) }

// Data is the payload, a view of the host's memory: read it, never write it.
func (e Event) Data() []byte {
	if e.e.Data.Len == 0 {
		return nil
	}
	return unsafe.Slice(e.e.Data.Ptr, e.e.Data.Len)
}

// NumExtensions is the number of extension attributes.
func (e Event) NumExtensions() int { return int(e.e.ExtensionsLen) }

// ExtensionAt returns the i-th extension attribute, 0 <= i < NumExtensions().
func (e Event) ExtensionAt(i int) (key, value string) {
	a := e.extensions()[i]
	return view(a.Key), view(a.Value)
}

// Extension returns the value of the extension attribute named key, if there is one.
func (e Event) Extension(key string) (value string, ok bool) {
	for _, a := range e.extensions() {
		if view(a.Key) == key {
			return view(a.Value), true
		}
	}
	return "", false
}

func (e Event) extensions() []abi.Attr {
	if e.e.ExtensionsLen == 0 || e.e.Extensions == nil {
		return nil
	}
	return unsafe.Slice(e.e.Extensions, e.e.ExtensionsLen)
}

// Clone copies the event into Go memory, with one allocation for all its strings and
// bytes, so it can be kept after OnEvents returns or emitted again.
func (e Event) Clone() OutEvent {
	exts := e.extensions()
	size := len(e.ID()) + len(e.Source()) + int(e.e.SpecVersion.Len) + len(e.Type()) +
		len(e.Subject()) + len(e.DataContentType()) + len(e.DataSchema()) + len(e.Time()) +
		int(e.e.Data.Len)
	for _, a := range exts {
		size += int(a.Key.Len + a.Value.Len)
	}
	c := cloner{buf: make([]byte, 0, size)}
	out := OutEvent{
		Seq:             e.Seq(),
		ID:              c.str(e.e.ID),
		Source:          c.str(e.e.Source),
		SpecVersion:     c.str(e.e.SpecVersion),
		Type:            c.str(e.e.Type),
		Subject:         c.str(e.e.Subject),
		DataContentType: c.str(e.e.DataContentType),
		DataSchema:      c.str(e.e.DataSchema),
		Time:            c.str(e.e.Time),
	}
	if len(exts) > 0 {
		out.Extensions = make([]Attr, len(exts))
		for i, a := range exts {
			out.Extensions[i] = Attr{Key: c.str(a.Key), Value: c.str(a.Value)}
		}
	}
	// Data comes last and is capped, so appending to it cannot overwrite the strings.
	if data := e.Data(); data != nil {
		start := len(c.buf)
		c.buf = append(c.buf, data...)
		out.Data = c.buf[start:len(c.buf):len(c.buf)]
	}
	return out
}

// cloner copies views into one buffer that is never written again after a string is
// made over it, which is what makes unsafe.String over it sound.
type cloner struct{ buf []byte }

func (c *cloner) str(s abi.Str) string {
	if s.Len == 0 {
		return ""
	}
	start := len(c.buf)
	c.buf = append(c.buf, view(s)...)
	return unsafe.String(&c.buf[start], len(c.buf)-start)
}

// view is the zero-copy string over a borrowed evh_str.
func view(s abi.Str) string {
	return unsafe.String(s.Ptr, s.Len)
}
