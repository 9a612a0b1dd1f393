// Command {{lib}} is an evhost consumer plugin, built as a c-shared library: it prints one
// line per event, after "prefix" (optional; the plugin's name when absent). The SDK
// refuses unknown config keys (DecodeConfig) and recovers panics.
package main

import (
	"fmt"
	"os"

	evhost "github.com/evhost/evhost/plugins/sdk-go"
)

type config struct {
	Prefix *string `json:"prefix"`
}

type plugin struct {
	prefix string
}

func init() {
	evhost.RegisterConsumer(evhost.PluginInfo{Name: "{{name}}", Version: "0.1.0",
		Description: "prints one line per event"}, newPlugin)
}

func newPlugin(ctx *evhost.Context, raw []byte) (evhost.Consumer, error) {
	var c config
	if err := evhost.DecodeConfig(raw, &c); err != nil {
		return nil, err
	}
	p := &plugin{prefix: "{{name}}"}
	if c.Prefix != nil {
		p.prefix = *c.Prefix
	}
	return p, nil
}

func (p *plugin) OnEvents(batch evhost.Batch) evhost.Result {
	for i := 0; i < batch.Len(); i++ {
		e := batch.At(i)
		fmt.Fprintf(os.Stdout, "[%s] #%d %s id=%s source=%s (%d bytes)\n",
			p.prefix, e.Seq(), e.Type(), e.ID(), e.Source(), len(e.Data()))
	}
	return evhost.OK()
}

func (p *plugin) Stop() {}

// main is never called: a c-shared library needs a main package, nothing more.
func main() {}
