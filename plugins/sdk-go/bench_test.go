package evhost_test

import (
	"strconv"
	"testing"

	evhost "github.com/evhost/evhost/plugins/sdk-go"
	"github.com/evhost/evhost/plugins/sdk-go/internal/abi"
)

// benchEmitter hands the benchmark its Emitter from inside on_run.
type benchEmitter struct{ body func(*evhost.Emitter) }

func (b *benchEmitter) Run(e *evhost.Emitter) error { b.body(e); return nil }
func (b *benchEmitter) Stop()                       {}

var benchBody func(*evhost.Emitter)

func init() {
	evhost.RegisterProducer(evhost.PluginInfo{Name: "bench-emit"},
		func(*evhost.Context, []byte) (evhost.Producer, error) { return &benchEmitter{body: benchBody}, nil })
}

func benchmarkEmit(b *testing.B, batch int) {
	events := make([]evhost.OutEvent, batch)
	data := make([]byte, 64)
	for k := range events {
		events[k] = evhost.OutEvent{ID: strconv.Itoa(k), Source: "/evhost/examples/sequence",
			Type: "dev.evhost.example.sequence", DataContentType: "application/octet-stream", Data: data}
	}
	benchBody = func(e *evhost.Emitter) {
		b.ResetTimer()
		for i := 0; i < b.N; i += batch {
			if err := e.Emit(events...); err != nil {
				b.Fatal(err)
			}
		}
	}
	inst, st := lib.Create("bench-emit", "bench", "{}")
	if st != abi.OK {
		b.Fatal(abi.StatusName(st))
	}
	defer inst.Destroy()
	inst.Host.SetDiscard(true)
	inst.Run()
}

// BenchmarkEmit reports ns per event; the host side is a C function that returns at once.
func BenchmarkEmit1(b *testing.B)   { benchmarkEmit(b, 1) }
func BenchmarkEmit64(b *testing.B)  { benchmarkEmit(b, 64) }
func BenchmarkEmit256(b *testing.B) { benchmarkEmit(b, 256) }
