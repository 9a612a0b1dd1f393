package main

import (
	"fmt"
	"os"

	evhost "github.com/evhost/evhost/plugins/sdk-go"
)

// printer prints one line per event to stdout: the README's Go example and the
// demo's console. It keeps no state and takes no config.
type printer struct{}

func init() {
	evhost.RegisterConsumer(evhost.PluginInfo{Name: "print", Version: "0.1.0",
		Description: "prints one line per event to stdout"},
		func(*evhost.Context, []byte) (evhost.Consumer, error) { return printer{}, nil })
}

func (printer) OnEvents(batch evhost.Batch) evhost.Result {
	for i := 0; i < batch.Len(); i++ {
		e := batch.At(i)
		fmt.Fprintf(os.Stdout, "[go] #%d %s id=%s source=%s (%d bytes)\n",
			e.Seq(), e.Type(), e.ID(), e.Source(), len(e.Data()))
	}
	return evhost.OK()
}

func (printer) Stop() {}
