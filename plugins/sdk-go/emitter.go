package evhost

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/evhost/evhost/plugins/sdk-go/internal/abi"
)

// OutEvent is an event in Go memory: what a producer emits, and what Event.Clone returns.
// ID, Source and Type are required; the other attributes are optional and "" (or nil)
// when absent. SpecVersion "" means "1.0".
type OutEvent struct {
	// Seq is the host's sequence number when the event came from Clone; Emit ignores it.
	Seq             uint64
	ID              string
	Source          string
	SpecVersion     string
	Type            string
	Subject         string
	DataContentType string
	DataSchema      string
	// Time is an RFC 3339 timestamp, e.g. t.Format(time.RFC3339Nano).
	Time       string
	Data       []byte
	Extensions []Attr
}

// Attr is one CloudEvents extension attribute in string form.
type Attr struct {
	Key   string
	Value string
}

// Errors from Emit and TryEmit. Test for them with errors.Is.
var (
	// ErrBusy: TryEmit found the host's log full; nothing of the batch was accepted.
	ErrBusy = errors.New("evhost: the host's log is full (EVH_BUSY)")
	// ErrStopped: the host is shutting down and accepts nothing more; return from Run.
	ErrStopped = errors.New("evhost: the host is stopping (EVH_STOPPED)")
	// ErrInvalid: an event was malformed; the wrapping error says which and why.
	ErrInvalid = errors.New("evhost: invalid event")
	// ErrTooLarge: an event is larger than the host's configured maximum.
	ErrTooLarge = errors.New("evhost: event too large (EVH_ERR_TOO_LARGE)")
)

// StatusError is an emit failure with a status code this SDK has no sentinel for.
type StatusError struct {
	// Code is the raw status; values unknown to this SDK are kept as they came.
	Code int32
}

// Error names the status, e.g. "evhost: emit failed: EVH_ERR_INTERNAL".
func (e *StatusError) Error() string {
	return "evhost: emit failed: " + abi.StatusName(e.Code)
}

// Emitter hands events to the host. Each call copies the whole batch into one reusable
// block of C memory and makes one call into the host, whatever its size: emit batches, not
// single events, where you can (README.md has the cost of each). An Emitter is safe for
// concurrent use; calls are serialized. Its memory is freed when the instance is
// destroyed, after which Emit returns ErrStopped.
type Emitter struct {
	host abi.Host

	mu     sync.Mutex
	arena  unsafe.Pointer // C memory, so the events may hold pointers into it
	size   uintptr
	closed bool
}

// Emit appends events to the host's log atomically and in order: either all of them
// are accepted or none is. While the log is full it waits (backpressure), so call it from
// the producer's own goroutine, never from a consumer callback. It returns nil,
// ErrStopped, an error wrapping ErrInvalid or ErrTooLarge, or a *StatusError. The events
// are copied before Emit returns; the caller may reuse them at once.
func (e *Emitter) Emit(events ...OutEvent) error {
	_, err := e.emit(events, abi.EmitBlock, false)
	return err
}

// TryEmit is Emit without waiting: when the host's log is full it returns ErrBusy at
// once and nothing of the batch was accepted.
func (e *Emitter) TryEmit(events ...OutEvent) error {
	_, err := e.emit(events, abi.EmitNonblock, false)
	return err
}

// emit copies events into the arena and hands them to the host: with emit_tracked when
// tracked (answering the ticket), else with emit.
func (e *Emitter) emit(events []OutEvent, flags uint32, tracked bool) (uint64, error) {
	if len(events) == 0 && !tracked {
		return 0, nil
	}
	nAttrs, nBytes := 0, 0
	for i := range events {
		ev := &events[i]
		switch {
		case ev.ID == "":
			return 0, fmt.Errorf("%w: event %d of %d has no ID", ErrInvalid, i, len(events))
		case ev.Source == "":
			return 0, fmt.Errorf("%w: event %d of %d (id %q) has no Source", ErrInvalid, i, len(events), ev.ID)
		case ev.Type == "":
			return 0, fmt.Errorf("%w: event %d of %d (id %q) has no Type", ErrInvalid, i, len(events), ev.ID)
		}
		nBytes += len(ev.ID) + len(ev.Source) + len(ev.SpecVersion) + len(ev.Type) +
			len(ev.Subject) + len(ev.DataContentType) + len(ev.DataSchema) + len(ev.Time) +
			len(ev.Data)
		nAttrs += len(ev.Extensions)
		for _, a := range ev.Extensions {
			nBytes += len(a.Key) + len(a.Value)
		}
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return 0, ErrStopped
	}
	// Layout: the evh_event array, then the evh_attr array, then all bytes. Both arrays
	// have 8-byte alignment and sizes that are multiples of 8, so no padding is needed.
	eventsSize := uintptr(len(events)) * abi.EventSize
	attrsSize := uintptr(nAttrs) * abi.AttrSize
	if err := e.reserve(eventsSize + attrsSize + uintptr(nBytes)); err != nil {
		return 0, err
	}
	out := unsafe.Slice((*abi.RawEvent)(e.arena), len(events))
	var attrs []abi.RawAttr
	if nAttrs > 0 {
		attrs = unsafe.Slice((*abi.RawAttr)(unsafe.Add(e.arena, eventsSize)), nAttrs)
	}
	w := writer{buf: unsafe.Slice((*byte)(unsafe.Add(e.arena, eventsSize+attrsSize)), nBytes),
		base: uintptr(e.arena) + eventsSize + attrsSize}
	// Producers tend to repeat source, type and content type across a batch: an attribute
	// that is the very same Go string as in the previous event reuses that copy.
	//
	// Fields are stored one by one: building an abi.RawEvent on the stack and copying it
	// into the arena stalls on store forwarding, once per event.
	prev, last := &OutEvent{}, &abi.RawEvent{}
	for i := range events {
		ev, c := &events[i], &out[i]
		c.StructSize = uint32(abi.EventSize)
		c.Reserved = 0
		c.Seq = 0
		c.ID = w.str(ev.ID)
		c.Source = w.reuse(ev.Source, prev.Source, last.Source)
		c.SpecVersion = w.reuse(ev.SpecVersion, prev.SpecVersion, last.SpecVersion)
		c.Type = w.reuse(ev.Type, prev.Type, last.Type)
		c.Subject = w.reuse(ev.Subject, prev.Subject, last.Subject)
		c.DataContentType = w.reuse(ev.DataContentType, prev.DataContentType, last.DataContentType)
		c.DataSchema = w.reuse(ev.DataSchema, prev.DataSchema, last.DataSchema)
		c.Time = w.reuse(ev.Time, prev.Time, last.Time)
		c.Data = w.bytes(ev.Data)
		c.Extensions, c.ExtensionsLen = 0, 0
		if n := len(ev.Extensions); n > 0 {
			for j, a := range ev.Extensions {
				attrs[j].Key = w.str(a.Key)
				attrs[j].Value = w.str(a.Value)
			}
			c.Extensions = uintptr(unsafe.Pointer(&attrs[0]))
			c.ExtensionsLen = uintptr(n)
			attrs = attrs[n:]
		}
		prev, last = ev, c
	}
	if tracked {
		status, ticket := e.host.EmitTracked((*abi.Event)(e.arena), len(out), flags)
		return ticket, emitError(status)
	}
	return 0, emitError(e.host.Emit((*abi.Event)(e.arena), len(out), flags))
}

// reserve makes the arena at least size bytes, doubling so that a steady producer stops
// allocating after its first few batches.
func (e *Emitter) reserve(size uintptr) error {
	if size <= e.size {
		return nil
	}
	grown := max(size, 2*e.size, 4096)
	p := abi.Alloc(grown)
	if p == nil {
		return fmt.Errorf("evhost: emit: cannot allocate %d bytes of C memory", grown)
	}
	abi.Free(e.arena)
	e.arena, e.size = p, grown
	return nil
}

// close frees the arena; the instance is being destroyed.
func (e *Emitter) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	abi.Free(e.arena)
	e.arena, e.size, e.closed = nil, 0, true
}

func emitError(status int32) error {
	switch status {
	case abi.OK:
		return nil
	case abi.Busy:
		return ErrBusy
	case abi.Stopped:
		return ErrStopped
	case abi.ErrInvalidArgument:
		return fmt.Errorf("%w: the host rejected the batch (EVH_ERR_INVALID_ARGUMENT); its log says why", ErrInvalid)
	case abi.ErrTooLarge:
		return ErrTooLarge
	}
	return &StatusError{Code: status}
}

// writer copies strings and bytes into the arena's byte area, front to back, and answers
// views of the copies. base is the C address of buf[0].
type writer struct {
	buf  []byte
	base uintptr
	off  int
}

func (w *writer) str(s string) abi.RawStr {
	if len(s) == 0 {
		return abi.RawStr{}
	}
	off := w.off
	w.off += copy(w.buf[off:], s)
	return abi.RawStr{Ptr: w.base + uintptr(off), Len: uintptr(len(s))}
}

// reuse is str, except that when s is the very string prev (same bytes in memory), whose
// copy is at was, it answers was.
func (w *writer) reuse(s, prev string, was abi.RawStr) abi.RawStr {
	if len(s) == len(prev) && unsafe.StringData(s) == unsafe.StringData(prev) && len(s) > 0 {
		return was
	}
	return w.str(s)
}

func (w *writer) bytes(b []byte) abi.RawStr {
	return w.str(unsafe.String(unsafe.SliceData(b), len(b)))
}
