package main

import (
	"fmt"
	"os"

	evhost "github.com/evhost/evhost/plugins/sdk-go"
)

const (
	fnvOffset = 0xcbf29ce484222325
	fnvPrime  = 0x100000001b3
)

// digest folds every event, in order, into one 64-bit FNV-1a hash of
// id 0x1F type 0x1F data 0x1E, and on stop writes
// {"count": N, "digest": "<16 hex>", "in_order": true|false} to path.
type digest struct {
	ctx     *evhost.Context
	path    string
	count   uint64
	hash    uint64
	lastSeq uint64
	inOrder bool
}

type digestConfig struct {
	Path string `json:"path"`
}

func init() {
	evhost.RegisterConsumer(evhost.PluginInfo{
		Name:        "digest",
		Version:     "0.1.0",
		Description: "hashes every event in order (FNV-1a 64) and writes the digest on stop",
	}, newDigest)
}

func newDigest(ctx *evhost.Context, config []byte) (evhost.Consumer, error) {
	var c digestConfig
	if err := evhost.DecodeConfig(config, &c); err != nil {
		return nil, err
	}
	if c.Path == "" {
		return nil, evhost.MissingKey("path", `path = "digest.json"`)
	}
	return &digest{ctx: ctx, path: ctx.Resolve(c.Path), hash: fnvOffset, inOrder: true}, nil
}

func (d *digest) OnEvents(batch evhost.Batch) evhost.Result {
	h := d.hash
	for i := 0; i < batch.Len(); i++ {
		ev := batch.At(i)
		if d.count > 0 && ev.Seq() <= d.lastSeq {
			d.inOrder = false
		}
		d.lastSeq = ev.Seq()
		d.count++
		h = fnvString(h, ev.ID())
		h = (h ^ 0x1F) * fnvPrime
		h = fnvString(h, ev.Type())
		h = (h ^ 0x1F) * fnvPrime
		for _, b := range ev.Data() {
			h = (h ^ uint64(b)) * fnvPrime
		}
		h = (h ^ 0x1E) * fnvPrime
	}
	d.hash = h
	return evhost.OK()
}

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h
}

func (d *digest) Stop() {
	line := fmt.Sprintf("{\"count\": %d, \"digest\": \"%016x\", \"in_order\": %t}\n", d.count, d.hash, d.inOrder)
	if err := os.WriteFile(d.path, []byte(line), 0o644); err != nil {
		d.ctx.Errorf("cannot write %s: %v", d.path, err)
	}
}
