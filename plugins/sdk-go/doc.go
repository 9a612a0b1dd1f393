// Package evhost is the Go SDK for evhost plugins: write a Producer or a Consumer in plain
// Go, register it from init, and build the package as a c-shared library that the evhost
// host loads. The SDK exports the library's C entry point (evh_library_init), recovers
// panics at the boundary and keeps every instance behind a runtime/cgo.Handle; plugin code
// needs no cgo, no //export and no unsafe.
//
// A complete consumer library, built with
// `go build -buildmode=c-shared -o libaudit.so .`:
//
//	package main
//
//	import (
//		"errors"
//		"os"
//
//		evhost "github.com/evhost/evhost/plugins/sdk-go"
//	)
//
//	type audit struct {
//		ctx  *evhost.Context
//		file *os.File
//		line []byte
//	}
//
//	func init() {
//		evhost.RegisterConsumer(evhost.PluginInfo{
//			Name:        "audit",
//			Version:     "1.0.0",
//			Description: "appends one line per event to a file",
//		}, func(ctx *evhost.Context, config []byte) (evhost.Consumer, error) {
//			var c struct {
//				Path string `json:"path"`
//			}
//			if err := evhost.DecodeConfig(config, &c); err != nil {
//				return nil, err
//			}
//			if c.Path == "" {
//				return nil, errors.New(`config: "path" is required`)
//			}
//			f, err := os.OpenFile(c.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
//			if err != nil {
//				return nil, err
//			}
//			return &audit{ctx: ctx, file: f}, nil
//		})
//	}
//
//	// OnEvents reads the host's memory in place; nothing outlives the call.
//	func (a *audit) OnEvents(batch evhost.Batch) evhost.Result {
//		a.line = a.line[:0]
//		for i := 0; i < batch.Len(); i++ {
//			ev := batch.At(i)
//			a.line = append(a.line, ev.Type()...)
//			a.line = append(a.line, ' ')
//			a.line = append(a.line, ev.ID()...)
//			a.line = append(a.line, '\n')
//		}
//		if _, err := a.file.Write(a.line); err != nil {
//			return evhost.Retry(0, err)
//		}
//		return evhost.OK()
//	}
//
//	func (a *audit) Stop() {
//		if err := a.file.Close(); err != nil {
//			a.ctx.Errorf("closing: %v", err)
//		}
//	}
//
//	func main() {} // required by -buildmode=c-shared, never called
//
// A producer implements Run, emitting batches until it is done or asked to stop:
//
//	func (t *ticker) Run(emitter *evhost.Emitter) error {
//		for k := 0; !t.ctx.StopRequested(); k++ {
//			select {
//			case <-t.ctx.Done():
//				return nil
//			case now := <-t.tick.C:
//				err := emitter.Emit(evhost.OutEvent{
//					ID:     strconv.Itoa(k),
//					Source: "/ticker",
//					Type:   "com.example.tick",
//					Time:   now.Format(time.RFC3339Nano),
//				})
//				if err != nil {
//					return err // ErrStopped counts as a clean stop
//				}
//			}
//		}
//		return nil
//	}
//
//	func (t *ticker) Stop() { t.tick.Stop() } // Context.Done is already closed
//
// # Rules
//
// Events are views of the host's memory, valid only during OnEvents: keep nothing from
// a Batch or Event past the call; Clone what you need. Never call signal.Notify (or
// anything that installs signal handlers): the host owns SIGTERM and SIGINT. Do not
// block forever in OnEvents or Stop: it holds up delivery to that consumer and the
// host's shutdown. A process hosts at most one Go library, so put all your Go plugins
// into one library (one main package importing them all); each registers in init.
// Panics in hook calls are recovered and fail the call with EVH_ERR_INTERNAL, and that
// instance's code is never called again (README.md says what each hook does then); a panic
// in a goroutine of your own still ends the whole host process.
package evhost
