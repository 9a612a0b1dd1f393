package evhost

import (
	"context"
	"sync"

	"github.com/evhost/evhost/plugins/sdk-go/internal/abi"
)

// A producer that acknowledges someone else (an HTTP client, a broker message) does so only
// once its events are committed (ABI 1.1): with the host's disk log, written and fsynced as
// its [log] fsync policy says; with the memory log, accepted. EmitCommitted waits for that;
// EmitTracked returns a Ticket at once, to Wait on or to select on its Done channel, so
// that one goroutine keeps many batches in flight. Against a 1.0 host, which has no commit
// entries, an accepted batch counts as committed (that is what the 1.0 memory log meant),
// and Ticket.Seq is 0.

// Ticket is a batch the host accepted: the sequence number of its last event. It is
// committed once the host's commit watermark reaches it. Safe for concurrent use.
type Ticket struct {
	seq  uint64
	host abi.Host

	once sync.Once
	done <-chan struct{}
}

// CommitListener is implemented by a Producer that wants the commit watermark itself: the
// SDK calls OnCommitted after it released the tickets the commit covers, on a host thread
// of its own, never concurrently with itself, with values that only increase. Return
// quickly, and do not wait there (no Emit, EmitCommitted or Ticket.Wait; TryEmit is fine).
type CommitListener interface {
	OnCommitted(committed uint64)
}

// EmitTracked is Emit that also returns the batch's Ticket. An empty batch's ticket is
// the watermark at the call, committed already.
func (e *Emitter) EmitTracked(events ...OutEvent) (*Ticket, error) {
	return e.tracked(events, abi.EmitBlock)
}

// TryEmitTracked is EmitTracked without waiting for room: ErrBusy at once when the
// host's log is full.
func (e *Emitter) TryEmitTracked(events ...OutEvent) (*Ticket, error) {
	return e.tracked(events, abi.EmitNonblock)
}

// EmitCommitted is Emit that returns only once the batch is committed (EVH_EMIT_COMMIT),
// for a producer that handles one request per goroutine. ErrStopped when the host stopped
// before the batch was committed.
func (e *Emitter) EmitCommitted(events ...OutEvent) error {
	_, err := e.emit(events, abi.EmitBlock|abi.EmitCommit, true)
	return err
}

func (e *Emitter) tracked(events []OutEvent, flags uint32) (*Ticket, error) {
	seq, err := e.emit(events, flags, true)
	if err != nil {
		return nil, err
	}
	return &Ticket{seq: seq, host: e.host}, nil
}

// Seq is the sequence number of the batch's last event; 0 from a 1.0 host.
func (t *Ticket) Seq() uint64 { return t.seq }

// Committed reports whether the batch is committed. It does not block.
func (t *Ticket) Committed() bool { return t.host.IsCommitted(t.seq) }

// Done returns a channel that is closed once the batch is committed, or once the instance
// is gone (then Committed stays false). The SDK's on_committed hook closes it: nothing
// blocks, and many tickets can be selected on at once.
func (t *Ticket) Done() <-chan struct{} {
	t.once.Do(func() { t.done = t.host.CommitDone(t.seq) })
	return t.done
}

// Wait blocks until the batch is committed (nil), the host stopped first or the instance
// is gone (ErrStopped: the batch was accepted, but may be lost), or ctx ends (ctx.Err()).
func (t *Ticket) Wait(ctx context.Context) error {
	if ctx.Done() == nil {
		// No cancellation to watch: the host's own wait, which needs no hook.
		if t.host.WaitCommitted(t.seq, abi.WaitForever) == abi.OK {
			return nil
		}
		return ErrStopped
	}
	select {
	case <-t.Done():
		if t.Committed() {
			return nil
		}
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}
