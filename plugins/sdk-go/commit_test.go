package evhost_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	evhost "github.com/evhost/evhost/plugins/sdk-go"
	"github.com/evhost/evhost/plugins/sdk-go/internal/abi"
	"github.com/evhost/evhost/plugins/sdk-go/internal/testhost"
)

// tracked hands its emitter to the test from Run, and records OnCommitted (CommitListener).
type tracked struct{ saw atomic.Uint64 }

func (tr *tracked) Run(e *evhost.Emitter) error {
	lastTracked.Lock()
	lastTracked.emitter, lastTracked.t = e, tr
	lastTracked.Unlock()
	return nil
}
func (*tracked) Stop()                           {}
func (tr *tracked) OnCommitted(committed uint64) { tr.saw.Store(committed) }

var lastTracked struct {
	sync.Mutex
	emitter *evhost.Emitter
	t       *tracked
}

func init() {
	evhost.RegisterProducer(evhost.PluginInfo{Name: "tracked"},
		func(*evhost.Context, []byte) (evhost.Producer, error) { return &tracked{}, nil })
}

// runTracked creates and runs a tracked producer; it returns the instance and its emitter.
func runTracked(t *testing.T, create func(plugin, name, config string) (*testhost.Instance, int32)) (*testhost.Instance, *evhost.Emitter, *tracked) {
	t.Helper()
	inst, st := create("tracked", "t", "{}")
	if st != abi.OK {
		t.Fatalf("on_create = %s", abi.StatusName(st))
	}
	if st := inst.Run(); st != abi.OK {
		t.Fatalf("on_run = %s", abi.StatusName(st))
	}
	lastTracked.Lock()
	defer lastTracked.Unlock()
	return inst, lastTracked.emitter, lastTracked.t
}

func batch(n int) []evhost.OutEvent {
	events := make([]evhost.OutEvent, n)
	for k := range events {
		events[k] = evhost.OutEvent{ID: fmt.Sprint(k), Source: "/test", Type: "t"}
	}
	return events
}

func isDone(ticket *evhost.Ticket) bool {
	select {
	case <-ticket.Done():
		return true
	default:
		return false
	}
}

func TestTicketsAreReleasedByOnCommitted(t *testing.T) {
	inst, e, tr := runTracked(t, lib.Create)
	first, err := e.EmitTracked(batch(3)...)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.TryEmitTracked(batch(2)...)
	if err != nil {
		t.Fatal(err)
	}
	if first.Seq() != 3 || second.Seq() != 5 {
		t.Fatalf("tickets = %d, %d; want 3, 5", first.Seq(), second.Seq())
	}
	if first.Committed() || isDone(first) || isDone(second) {
		t.Fatal("a ticket is committed before the host said so")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := first.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait before the commit = %v, want the context's deadline", err)
	}

	inst.Host.SetCommitted(3)
	inst.OnCommitted(3)
	if !isDone(first) || !first.Committed() || isDone(second) {
		t.Fatalf("after on_committed(3): first done=%v committed=%v, second done=%v", isDone(first), first.Committed(), isDone(second))
	}
	if err := first.Wait(context.Background()); err != nil {
		t.Fatalf("Wait after the commit = %v", err)
	}
	if got := tr.saw.Load(); got != 3 {
		t.Fatalf("the producer's OnCommitted saw %d, want 3", got)
	}
	empty, err := e.EmitTracked()
	if err != nil || empty.Seq() != 3 || !empty.Committed() {
		t.Fatalf("an empty batch's ticket = %v, %v; want the watermark 3, committed", empty, err)
	}
	if err := e.EmitCommitted(batch(1)...); err != nil {
		t.Fatal(err)
	}
	emits := inst.Host.Emits()
	var flags []uint32
	for _, emit := range emits {
		flags = append(flags, emit.Flags)
	}
	want := []uint32{abi.EmitBlock, abi.EmitNonblock, abi.EmitBlock | abi.EmitCommit}
	if fmt.Sprint(flags) != fmt.Sprint(want) {
		t.Fatalf("emit flags = %v, want %v", flags, want)
	}

	// The instance goes before the second batch is committed: its ticket ends, stopped.
	inst.Destroy()
	if !isDone(second) || second.Committed() {
		t.Fatal("destroying the instance did not end the pending ticket")
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	if err := second.Wait(ctx2); !errors.Is(err, evhost.ErrStopped) {
		t.Fatalf("Wait after destroy = %v, want ErrStopped", err)
	}
}

func TestAgainstA10HostAcceptedIsCommitted(t *testing.T) {
	inst, e, _ := runTracked(t, lib.CreateOn10Host)
	defer inst.Destroy()
	ticket, err := e.EmitTracked(batch(2)...)
	if err != nil {
		t.Fatal(err)
	}
	if ticket.Seq() != 0 || !ticket.Committed() || !isDone(ticket) {
		t.Fatalf("ticket from a 1.0 host: seq %d, committed %v, done %v", ticket.Seq(), ticket.Committed(), isDone(ticket))
	}
	if err := ticket.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := e.EmitCommitted(batch(1)...); err != nil {
		t.Fatal(err)
	}
	if n := len(inst.Host.Emits()); n != 2 {
		t.Fatalf("the 1.0 host's emit got %d batches, want 2", n)
	}
}
