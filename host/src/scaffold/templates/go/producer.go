// Command {{lib}} is an evhost producer plugin, built as a c-shared library: it emits
// "count" events (default 10), one every "interval" (default "1s"), then finishes; the
// host stops when every producer has. The SDK refuses unknown config keys (DecodeConfig)
// and recovers panics.
package main

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	evhost "github.com/evhost/evhost/plugins/sdk-go"
)

type config struct {
	Count    *uint64 `json:"count"`
	Interval *string `json:"interval"`
}

type plugin struct {
	ctx      *evhost.Context
	count    uint64
	interval time.Duration
}

func init() {
	evhost.RegisterProducer(evhost.PluginInfo{Name: "{{name}}", Version: "0.1.0",
		Description: "emits count events, one every interval"}, newPlugin)
}

func newPlugin(ctx *evhost.Context, raw []byte) (evhost.Producer, error) {
	var c config
	if err := evhost.DecodeConfig(raw, &c); err != nil {
		return nil, err
	}
	p := &plugin{ctx: ctx, count: 10, interval: time.Second}
	if c.Count != nil {
		p.count = *c.Count
	}
	if c.Interval != nil {
		d, err := time.ParseDuration(*c.Interval)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("`interval` = %q is not a duration; write a whole number and a unit, e.g. interval = \"250ms\"", *c.Interval)
		}
		p.interval = d
	}
	return p, nil
}

func (p *plugin) Run(emitter *evhost.Emitter) error {
	for n := uint64(0); n < p.count; n++ {
		err := emitter.Emit(evhost.OutEvent{
			ID:              strconv.FormatUint(n, 10),
			Source:          "/{{name}}",
			Type:            "com.example.{{lib}}.tick",
			DataContentType: "application/json",
			Data:            []byte(fmt.Sprintf(`{"n":%d}`, n)),
		})
		if errors.Is(err, evhost.ErrStopped) {
			return nil
		} else if err != nil {
			return err
		}
		// Sleeps, but wakes at once when the host asks the producer to stop.
		select {
		case <-p.ctx.Done():
			return nil
		case <-time.After(p.interval):
		}
	}
	return nil
}

// Stop needs nothing: Run watches the Context, which the SDK cancels first.
func (p *plugin) Stop() {}

// main is never called: a c-shared library needs a main package, nothing more.
func main() {}
