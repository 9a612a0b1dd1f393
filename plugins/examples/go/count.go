package main

import (
	"fmt"
	"os"

	evhost "github.com/evhost/evhost/plugins/sdk-go"
)

// count adds up events and data bytes as cheaply as a consumer can: it reads the host's
// structs in place, with no copy and no cgo call per event. On stop, if path is set, it
// writes {"count": N, "bytes": B}.
type count struct {
	ctx   *evhost.Context
	path  string
	count uint64
	bytes uint64
}

type countConfig struct {
	Path string `json:"path"`
}

func init() {
	evhost.RegisterConsumer(evhost.PluginInfo{
		Name:        "count",
		Version:     "0.1.0",
		Description: "counts events and data bytes; writes the totals on stop if path is set",
	}, newCount)
}

func newCount(ctx *evhost.Context, config []byte) (evhost.Consumer, error) {
	var c countConfig
	if err := evhost.DecodeConfig(config, &c); err != nil {
		return nil, err
	}
	path := c.Path
	if path != "" {
		path = ctx.Resolve(path)
	}
	return &count{ctx: ctx, path: path}, nil
}

func (c *count) OnEvents(batch evhost.Batch) evhost.Result {
	n := batch.Len()
	var b uint64
	for i := 0; i < n; i++ {
		b += uint64(len(batch.At(i).Data()))
	}
	c.count += uint64(n)
	c.bytes += b
	return evhost.OK()
}

func (c *count) Stop() {
	if c.path == "" {
		return
	}
	line := fmt.Sprintf("{\"count\": %d, \"bytes\": %d}\n", c.count, c.bytes)
	if err := os.WriteFile(c.path, []byte(line), 0o644); err != nil {
		c.ctx.Errorf("cannot write %s: %v", c.path, err)
	}
}
