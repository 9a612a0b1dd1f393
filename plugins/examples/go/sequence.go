package main

import (
	"fmt"
	"strconv"

	evhost "github.com/evhost/evhost/plugins/sdk-go"
)

// sequence emits count events in batches of batch, then returns. Event k (from 0) has
// id "k" and payload_bytes bytes of data, byte i being (k + i) mod 256.
type sequence struct {
	ctx     *evhost.Context
	count   uint64
	payload int
	batch   int
}

type sequenceConfig struct {
	Count        *uint64 `json:"count"`
	PayloadBytes *uint64 `json:"payload_bytes"`
	Batch        *uint64 `json:"batch"`
}

func init() {
	evhost.RegisterProducer(evhost.PluginInfo{
		Name:        "sequence",
		Version:     "0.1.0",
		Description: "emits count numbered events with a deterministic payload, then stops",
	}, newSequence)
}

func newSequence(ctx *evhost.Context, config []byte) (evhost.Producer, error) {
	var c sequenceConfig
	if err := evhost.DecodeConfig(config, &c); err != nil {
		return nil, err
	}
	if c.Count == nil {
		return nil, evhost.MissingKey("count", "count = 1000")
	}
	s := &sequence{ctx: ctx, count: *c.Count, payload: 64, batch: 64}
	if c.PayloadBytes != nil {
		if *c.PayloadBytes > 1<<30 {
			return nil, fmt.Errorf("`payload_bytes` = %d is too large; write at most 1073741824", *c.PayloadBytes)
		}
		s.payload = int(*c.PayloadBytes)
	}
	if c.Batch != nil {
		if *c.Batch < 1 || *c.Batch > 1<<20 {
			return nil, fmt.Errorf("`batch` = %d is out of range; write an integer from 1 to 1048576", *c.Batch)
		}
		s.batch = int(*c.Batch)
	}
	return s, nil
}

// Run builds each batch without per-event allocations: the constant attributes are set
// once, payloads are windows of one 256-periodic pattern, and ids share one string per
// batch.
func (s *sequence) Run(emitter *evhost.Emitter) error {
	pattern := make([]byte, 256+s.payload)
	for i := range pattern {
		pattern[i] = byte(i)
	}
	events := make([]evhost.OutEvent, s.batch)
	for j := range events {
		events[j].Source = "/evhost/examples/sequence"
		events[j].Type = "dev.evhost.example.sequence"
		events[j].DataContentType = "application/octet-stream"
	}
	var ids []byte
	for k := uint64(0); k < s.count; {
		if s.ctx.StopRequested() {
			return nil
		}
		batch := events[:min(uint64(s.batch), s.count-k)]
		ids = ids[:0]
		for j := range batch {
			ids = strconv.AppendUint(ids, k+uint64(j), 10)
		}
		all, start := string(ids), 0
		for j := range batch {
			end := start + digits(k+uint64(j))
			off := int((k + uint64(j)) % 256)
			batch[j].ID = all[start:end]
			batch[j].Data = pattern[off : off+s.payload]
			start = end
		}
		if err := emitter.Emit(batch...); err != nil {
			return err
		}
		k += uint64(len(batch))
	}
	return nil
}

// digits is the length of n in decimal.
func digits(n uint64) int {
	d := 1
	for ; n >= 10; n /= 10 {
		d++
	}
	return d
}

// Stop needs nothing: Run polls StopRequested between batches, which Stop raises.
func (s *sequence) Stop() {}
