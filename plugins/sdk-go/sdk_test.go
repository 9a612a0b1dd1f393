package evhost_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	evhost "github.com/evhost/evhost/plugins/sdk-go"
	"github.com/evhost/evhost/plugins/sdk-go/internal/abi"
	"github.com/evhost/evhost/plugins/sdk-go/internal/testhost"
)

// The test binary is its own plugin library: these plugins are registered like a user's,
// and testhost loads them through evh_library_init and the C hooks.

type panicky struct{}

func (panicky) OnEvents(evhost.Batch) evhost.Result { panic("boom in OnEvents") }
func (panicky) Stop()                               { panic("boom in Stop") }

var lastPanicky struct {
	sync.Mutex
	ctx *evhost.Context
}

// scripted answers each batch with the result its config names and records what it saw.
type scripted struct {
	result string
	seen   []evhost.OutEvent
}

func (s *scripted) OnEvents(b evhost.Batch) evhost.Result {
	for i := 0; i < b.Len(); i++ {
		s.seen = append(s.seen, b.At(i).Clone())
	}
	switch s.result {
	case "retry":
		return evhost.Retry(2, errors.New("downstream is slow"))
	case "fail":
		return evhost.Fail(1, errors.New("bad record"))
	case "fail-too-many":
		return evhost.Fail(99, nil)
	}
	return evhost.OK()
}
func (s *scripted) Stop() {}

var lastScripted struct {
	sync.Mutex
	c   *scripted
	ctx *evhost.Context
}

// burst emits its config's events in one Emit, or TryEmit with "try".
type burst struct {
	events []evhost.OutEvent
	try    bool
	err    error
}

func (b *burst) Run(e *evhost.Emitter) error {
	if b.try {
		b.err = e.TryEmit(b.events...)
	} else {
		b.err = e.Emit(b.events...)
	}
	lastBurst.Lock()
	lastBurst.err = b.err
	lastBurst.Unlock()
	return b.err
}
func (b *burst) Stop() {}

var lastBurst struct {
	sync.Mutex
	err error
}

type strictConfig struct {
	Count *uint64 `json:"count"`
	Path  string  `json:"path"`
}

func init() {
	evhost.RegisterConsumer(evhost.PluginInfo{Name: "panicky", Version: "1", Description: "panics"},
		func(ctx *evhost.Context, _ []byte) (evhost.Consumer, error) {
			lastPanicky.Lock()
			lastPanicky.ctx = ctx
			lastPanicky.Unlock()
			return panicky{}, nil
		})
	evhost.RegisterConsumer(evhost.PluginInfo{Name: "scripted", Version: "1.2.3", Description: "answers as told"},
		func(ctx *evhost.Context, config []byte) (evhost.Consumer, error) {
			var c struct {
				Result string `json:"result"`
			}
			if err := evhost.DecodeConfig(config, &c); err != nil {
				return nil, err
			}
			s := &scripted{result: c.Result}
			lastScripted.Lock()
			lastScripted.c, lastScripted.ctx = s, ctx
			lastScripted.Unlock()
			return s, nil
		})
	evhost.RegisterConsumer(evhost.PluginInfo{Name: "strict", Concurrent: true},
		func(_ *evhost.Context, config []byte) (evhost.Consumer, error) {
			var c strictConfig
			if err := evhost.DecodeConfig(config, &c); err != nil {
				return nil, err
			}
			if c.Count == nil {
				return nil, evhost.MissingKey("count", "count = 1")
			}
			return panicky{}, nil
		})
	evhost.RegisterProducer(evhost.PluginInfo{Name: "burst"},
		func(_ *evhost.Context, config []byte) (evhost.Producer, error) {
			var c struct {
				N   int  `json:"n"`
				Try bool `json:"try"`
			}
			if err := evhost.DecodeConfig(config, &c); err != nil {
				return nil, err
			}
			b := &burst{try: c.Try}
			for k := 0; k < c.N; k++ {
				ev := evhost.OutEvent{ID: fmt.Sprint(k), Source: "/test", Type: "t.burst",
					Data: bytes.Repeat([]byte{byte(k)}, k)}
				if k%2 == 1 {
					ev.Subject = "odd"
					ev.Extensions = []evhost.Attr{{Key: "k", Value: fmt.Sprint(k)}, {Key: "parity", Value: "odd"}}
				}
				b.events = append(b.events, ev)
			}
			return b, nil
		})
}

var lib *testhost.Library

func TestMain(m *testing.M) {
	var st int32
	if lib, st = testhost.Load(); st != 0 {
		fmt.Fprintf(os.Stderr, "evh_library_init: %s\n", abi.StatusName(st))
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func TestLibraryDescription(t *testing.T) {
	if lib.Flags != uint64(1) || lib.AbiMajor != 1 || lib.StructSize == 0 {
		t.Fatalf("library header = %+v", lib)
	}
	var names []string
	for _, p := range lib.Plugins {
		names = append(names, p.Name)
		isConsumer := p.Kind == abi.KindConsumer
		if p.HasEvents != isConsumer || p.HasRun == isConsumer {
			t.Errorf("%s: kind %d with on_events=%v on_run=%v", p.Name, p.Kind, p.HasEvents, p.HasRun)
		}
	}
	if got := strings.Join(names, ","); got != "bench-emit,tracked,panicky,scripted,strict,burst" {
		t.Fatalf("plugins = %s", got)
	}
	byName := map[string]testhost.Plugin{}
	for _, p := range lib.Plugins {
		byName[p.Name] = p
	}
	if p := byName["scripted"]; p.Version != "1.2.3" || p.Description != "answers as told" || p.Flags != 0 {
		t.Errorf("scripted = %+v", p)
	}
	if p := byName["strict"]; p.Flags != abi.PluginConcurrent {
		t.Errorf("strict flags = %d, want EVH_PLUGIN_CONCURRENT", p.Flags)
	}
	if again, st := testhost.Load(); st != 0 || len(again.Plugins) != 6 {
		t.Errorf("second evh_library_init = %v, %d", again, st)
	}
}

func TestRegisterAfterLoadLeavesTheDescription(t *testing.T) {
	// The library was built in TestMain; registering now must not change it, nor panic (a
	// panic here would kill the host process).
	evhost.RegisterConsumer(evhost.PluginInfo{Name: "late"},
		func(*evhost.Context, []byte) (evhost.Consumer, error) { return panicky{}, nil })
	if again, st := testhost.Load(); st != 0 || len(again.Plugins) != 6 {
		t.Errorf("the loaded description changed: %v, %d", again, st)
	}
}

func TestPanicFailsClosed(t *testing.T) {
	inst, st := lib.Create("panicky", "p1", "{}")
	if st != abi.OK {
		t.Fatalf("on_create = %s", abi.StatusName(st))
	}
	st, handled := inst.OnEvents([]testhost.Event{{Seq: 1, ID: "a", Source: "/s", Type: "t"}})
	if st != abi.ErrInternal || handled != 0 {
		t.Fatalf("on_events = %s, handled %d; want EVH_ERR_INTERNAL, 0", abi.StatusName(st), handled)
	}
	if errs := inst.Host.Errors(); len(errs) != 1 || errs[0] != "panic: boom in OnEvents" {
		t.Fatalf("set_error = %q", errs)
	}
	// A void hook logs the panic instead; the process (this test) keeps running.
	other, _ := lib.Create("panicky", "p2", "{}")
	defer other.Destroy()
	other.Stop()
	if !logged(other.Host.Logs(), "panic in on_stop: boom in Stop") {
		t.Fatalf("logs = %q", other.Host.Logs())
	}
	inst.Destroy()
	// The handle is gone: a stray call is refused, not a crash.
	if st, _ := inst.OnEvents([]testhost.Event{{ID: "a", Source: "/s", Type: "t"}}); st != abi.ErrInvalidArgument {
		t.Fatalf("on_events after on_destroy = %s", abi.StatusName(st))
	}
}

func TestAfterAPanicThePluginIsNeverCalledAgain(t *testing.T) {
	inst, _ := lib.Create("panicky", "p3", "{}")
	defer inst.Destroy()
	lastPanicky.Lock()
	ctx := lastPanicky.ctx
	lastPanicky.Unlock()
	inst.OnEvents([]testhost.Event{{Seq: 1, ID: "a", Source: "/s", Type: "t"}})
	// Poisoned: the next batch fails closed without reaching OnEvents, whose panic would
	// say "panic: boom in OnEvents" again, and Stop is not called either.
	const poisoned = "the instance panicked earlier (in on_events: boom in OnEvents) and is never called again"
	st, handled := inst.OnEvents([]testhost.Event{{Seq: 2, ID: "b", Source: "/s", Type: "t"}})
	if st != abi.ErrInternal || handled != 0 {
		t.Fatalf("on_events = %s, handled %d; want EVH_ERR_INTERNAL, 0", abi.StatusName(st), handled)
	}
	if errs := inst.Host.Errors(); len(errs) != 2 || errs[1] != "on_events not called: "+poisoned {
		t.Fatalf("set_error = %q", errs)
	}
	inst.Stop()
	logs := inst.Host.Logs()
	if !logged(logs, "on_stop not called: "+poisoned) || logged(logs, "panic in on_stop: boom in Stop") {
		t.Fatalf("logs = %q", logs)
	}
	// The SDK's part of the stop still happens: goroutines waiting on Done end.
	select {
	case <-ctx.Done():
	default:
		t.Fatal("Context.Done is still open after on_stop")
	}
}

// logged reports whether logs hold message at the error level.
func logged(logs []testhost.Log, message string) bool {
	for _, l := range logs {
		if l.Level == abi.LogError && l.Message == message {
			return true
		}
	}
	return false
}

func TestResults(t *testing.T) {
	batch := make([]testhost.Event, 5)
	for k := range batch {
		batch[k] = testhost.Event{Seq: uint64(10 + k), ID: fmt.Sprint(k), Source: "/s", Type: "t"}
	}
	for _, tc := range []struct {
		result  string
		status  int32
		handled int
		err     string
	}{
		{"ok", abi.OK, 0, ""},
		{"retry", abi.Retry, 2, "downstream is slow"},
		{"fail", abi.Fail, 1, "bad record"},
		{"fail-too-many", abi.Fail, 5, ""},
	} {
		inst, st := lib.Create("scripted", "s-"+tc.result, fmt.Sprintf(`{"result": %q}`, tc.result))
		if st != abi.OK {
			t.Fatalf("%s: on_create = %s %q", tc.result, abi.StatusName(st), inst.Host.Errors())
		}
		st, handled := inst.OnEvents(batch)
		if st != tc.status || handled != tc.handled {
			t.Errorf("%s: on_events = %s, handled %d; want %s, %d", tc.result, abi.StatusName(st), handled, abi.StatusName(tc.status), tc.handled)
		}
		errs := inst.Host.Errors()
		if (tc.err == "" && len(errs) != 0) || (tc.err != "" && (len(errs) != 1 || errs[0] != tc.err)) {
			t.Errorf("%s: set_error = %q, want %q", tc.result, errs, tc.err)
		}
		inst.Stop()
		inst.Destroy()
	}
}

func TestEventViewsAndClone(t *testing.T) {
	inst, _ := lib.Create("scripted", "views", `{"result": "ok"}`)
	defer inst.Destroy()
	in := testhost.Event{Seq: 42, ID: "id-1", Source: "/src", Type: "t.x", Subject: "sub",
		DataContentType: "text/plain", DataSchema: "urn:s", Time: "2024-01-02T03:04:05Z",
		Data: []byte("hello"), Extensions: [][2]string{{"traceparent", "00-abc"}, {"k", "v"}}}
	if st, _ := inst.OnEvents([]testhost.Event{in, {Seq: 43, ID: "id-2", Source: "/src", Type: "t.y"}}); st != abi.OK {
		t.Fatalf("on_events = %s", abi.StatusName(st))
	}
	lastScripted.Lock()
	seen := lastScripted.c.seen
	lastScripted.Unlock()
	want := evhost.OutEvent{Seq: 42, ID: "id-1", Source: "/src", Type: "t.x", Subject: "sub",
		DataContentType: "text/plain", DataSchema: "urn:s", Time: "2024-01-02T03:04:05Z",
		Data: []byte("hello"), Extensions: []evhost.Attr{{"traceparent", "00-abc"}, {"k", "v"}}}
	if fmt.Sprintf("%+v", seen[0]) != fmt.Sprintf("%+v", want) {
		t.Fatalf("clone = %+v\nwant    %+v", seen[0], want)
	}
	if seen[1].Seq != 43 || seen[1].Data != nil || seen[1].Extensions != nil {
		t.Fatalf("second clone = %+v", seen[1])
	}
}

func TestEmitBuildsOneBatchInCMemory(t *testing.T) {
	inst, st := lib.Create("burst", "b", `{"n": 5}`)
	if st != abi.OK {
		t.Fatalf("on_create = %s", abi.StatusName(st))
	}
	defer inst.Destroy()
	if st := inst.Run(); st != abi.OK {
		t.Fatalf("on_run = %s %q", abi.StatusName(st), inst.Host.Errors())
	}
	emits := inst.Host.Emits()
	if len(emits) != 1 || emits[0].Flags != abi.EmitBlock || len(emits[0].Events) != 5 {
		t.Fatalf("emits = %+v", emits)
	}
	for k, e := range emits[0].Events {
		if e.StructSize != uint32(abi.EventSize) || e.ID != fmt.Sprint(k) || e.Source != "/test" ||
			e.Type != "t.burst" || !bytes.Equal(e.Data, bytes.Repeat([]byte{byte(k)}, k)) {
			t.Errorf("event %d = %+v", k, e)
		}
		wantExt := "[]"
		if k%2 == 1 {
			wantExt = fmt.Sprintf("[[k %d] [parity odd]]", k)
			if e.Subject != "odd" {
				t.Errorf("event %d subject = %q", k, e.Subject)
			}
		}
		if got := fmt.Sprint(e.Extensions); got != wantExt {
			t.Errorf("event %d extensions = %s, want %s", k, got, wantExt)
		}
	}
}

func TestEmitErrors(t *testing.T) {
	inst, _ := lib.Create("burst", "busy", `{"n": 3, "try": true}`)
	defer inst.Destroy()
	inst.Host.SetEmitStatus(abi.Busy)
	if st := inst.Run(); st != abi.Fail {
		t.Fatalf("on_run = %s", abi.StatusName(st))
	}
	lastBurst.Lock()
	err := lastBurst.err
	lastBurst.Unlock()
	if !errors.Is(err, evhost.ErrBusy) {
		t.Fatalf("TryEmit = %v, want ErrBusy", err)
	}
	if errs := inst.Host.Errors(); len(errs) != 1 || errs[0] != evhost.ErrBusy.Error() {
		t.Fatalf("set_error = %q", errs)
	}
	if flags := inst.Host.Refused(); len(flags) != 1 || flags[0] != abi.EmitNonblock {
		t.Fatalf("TryEmit's flags = %v, want [EVH_EMIT_NONBLOCK]", flags)
	}

	stopped, _ := lib.Create("burst", "stopped", `{"n": 3}`)
	defer stopped.Destroy()
	stopped.Host.SetEmitStatus(abi.Stopped)
	if st := stopped.Run(); st != abi.OK {
		t.Fatalf("on_run with EVH_STOPPED = %s, want EVH_OK (a clean stop)", abi.StatusName(st))
	}

	odd, _ := lib.Create("burst", "odd", `{"n": 1}`)
	defer odd.Destroy()
	odd.Host.SetEmitStatus(77)
	odd.Run()
	lastBurst.Lock()
	err = lastBurst.err
	lastBurst.Unlock()
	var se *evhost.StatusError
	if !errors.As(err, &se) || se.Code != 77 || err.Error() != "evhost: emit failed: EVH_UNKNOWN(77)" {
		t.Fatalf("unknown status = %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ config, want string }{
		{`{"count": 1, "cuont": 2}`, "unknown key `cuont`; remove it; the keys accepted here are count, path"},
		{`{"count": "many"}`, "`count` is a string; write an integer from 0 up"},
		{`{"count": -1}`, "`count` = -1 is out of range; write an integer from 0 up"},
		{`{"path": "x"}`, "missing key `count`; add `count = 1` to the `config` table"},
		{`{"count": 1,}`, `the config is not JSON: invalid character '}' looking for beginning of object key string at byte 13`},
		{`{"count": 1} {}`, `the config is not JSON: unexpected data after the JSON object`},
	} {
		inst, st := lib.Create("strict", "c", tc.config)
		if st != abi.ErrConfig {
			t.Errorf("%s: on_create = %s, want EVH_ERR_CONFIG", tc.config, abi.StatusName(st))
		}
		if errs := inst.Host.Errors(); len(errs) != 1 || errs[0] != tc.want {
			t.Errorf("%s: set_error = %q, want %q", tc.config, errs, tc.want)
		}
	}
	if inst, st := lib.Create("strict", "ok", `{"count": 3}`); st != abi.OK {
		t.Errorf("valid config: %s %q", abi.StatusName(st), inst.Host.Errors())
	} else {
		inst.Destroy()
	}
}

func TestDecodeConfigEmptyIsEmptyObject(t *testing.T) {
	var c strictConfig
	if err := evhost.DecodeConfig(nil, &c); err != nil || c.Count != nil {
		t.Fatalf("DecodeConfig(nil) = %v, %+v", err, c)
	}
}

func TestAContextKeptPastDestroyDoesNothing(t *testing.T) {
	inst, st := lib.Create("scripted", "kept", `{"result": "ok"}`)
	if st != abi.OK {
		t.Fatalf("on_create = %s", abi.StatusName(st))
	}
	lastScripted.Lock()
	ctx := lastScripted.ctx
	lastScripted.Unlock()
	inst.Destroy()
	// The host may have freed its handle: the context must not reach it any more.
	ctx.Errorf("after destroy")
	if logs := inst.Host.Logs(); len(logs) != 0 {
		t.Errorf("a context logged after on_destroy: %v", logs)
	}
	if !ctx.StopRequested() {
		t.Error("a context of a destroyed instance does not read as stopped")
	}
}

func TestConfigErrorsTellTheHostWhichKey(t *testing.T) {
	var c struct {
		Count *uint64 `json:"count"`
		TLS   struct {
			CAFile string `json:"ca_file"`
		} `json:"tls"`
	}
	for _, tc := range []struct {
		config, key, path string
		accessor          int
		keys              []string
	}{
		{`{"count": 1, "tls": {"ca_fle": "x"}}`, "tls.ca_fle", "tls", abi.ConfigKeys, []string{"ca_file"}},
		// encoding/json takes "Count" for "count"; the host, told it, blames only "zzz".
		{`{"Count": 1, "zzz": 2}`, "zzz", "", abi.ConfigKeys, []string{"count", "tls", "Count"}},
		{`{"tls": {"ca_file": 3}}`, "tls.ca_file", "tls.ca_file", abi.ConfigString, nil},
	} {
		err := evhost.DecodeConfig([]byte(tc.config), &c)
		var ce *evhost.ConfigError
		if !errors.As(err, &ce) || ce.Key != tc.key {
			t.Fatalf("%s: %v, want a *ConfigError for %q", tc.config, err, tc.key)
		}
		accessor, path, keys, ok := ce.HostAccessor()
		if !ok || accessor != tc.accessor || path != tc.path || strings.Join(keys, ",") != strings.Join(tc.keys, ",") {
			t.Errorf("%s: HostAccessor() = %d %q %q %v, want %d %q %q", tc.config, accessor, path, keys, ok, tc.accessor, tc.path, tc.keys)
		}
	}
}
