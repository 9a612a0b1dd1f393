package evhost

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/evhost/evhost/plugins/sdk-go/internal/abi"
)

// PluginInfo identifies a plugin to the host.
type PluginInfo struct {
	// Name is what the host's config refers to (plugin = "..."); unique within the
	// library, [a-z0-9_-]+ by convention.
	Name string
	// Version is the plugin's own version, free-form; semver recommended.
	Version string
	// Description is one line for `evhost inspect`.
	Description string
	// Concurrent says that OnEvents is safe for concurrent use (EVH_PLUGIN_CONCURRENT).
	// Reserved: the host ignores it and never calls one consumer instance concurrently.
	Concurrent bool
}

// Consumer receives every event, in log order, in batches. One instance is never called
// concurrently.
type Consumer interface {
	// OnEvents handles one batch of at least one event and says how it went. The batch
	// and everything it gives are valid only until OnEvents returns; Clone what you keep.
	// While it runs, no further batch reaches this consumer, so never block forever.
	OnEvents(batch Batch) Result
	// Stop is called once after the last batch, before the instance goes away: flush and
	// close here, and report trouble through the Context's log.
	Stop()
}

// Producer turns the world's events into events.
type Producer interface {
	// Run emits through emitter on a thread the host gives it, until the producer is done
	// or asked to stop (Stop, or Context.StopRequested / Context.Done). A non-nil error
	// is reported to the host and ends the instance with EVH_FAIL; ErrStopped counts as a
	// clean stop.
	Run(emitter *Emitter) error
	// Stop asks Run to return soon. The host calls it from another thread while Run is
	// running, and possibly after Run has returned: make it idempotent and non-blocking.
	Stop()
}

// ConsumerFactory makes a consumer instance from its JSON config (see DecodeConfig).
// An error rejects the config: the host shows its message, so say what is wrong and how
// to fix it.
type ConsumerFactory func(ctx *Context, config []byte) (Consumer, error)

// ProducerFactory makes a producer instance from its JSON config (see DecodeConfig).
type ProducerFactory func(ctx *Context, config []byte) (Producer, error)

// RegisterConsumer adds a consumer plugin to this library. Call it from an init function;
// a library may register many plugins. Mistakes (an empty or duplicate name, a nil
// factory) make the library fail to load, with the reason on the host's stderr; a call
// after the host loaded the library is ignored.
func RegisterConsumer(info PluginInfo, factory ConsumerFactory) {
	var flags uint64
	if info.Concurrent {
		flags |= abi.PluginConcurrent
	}
	register(abi.KindConsumer, info, flags, "consumer", factory, func(ctx *Context, _ abi.Host, c Consumer) any {
		return &consumer{ctx: ctx, impl: c}
	})
}

// RegisterProducer adds a producer plugin to this library; see RegisterConsumer.
func RegisterProducer(info PluginInfo, factory ProducerFactory) {
	register(abi.KindProducer, info, 0, "producer", factory, func(ctx *Context, host abi.Host, p Producer) any {
		return &producer{ctx: ctx, impl: p, emitter: &Emitter{host: host}}
	})
}

// register is what both Register functions do: each create gets its own Context, and a
// factory that returns neither a plugin nor an error is refused by name (`what`) rather than
// left to crash the first hook. wrap makes the instance that the abi package drives.
func register[T any](kind uint32, info PluginInfo, flags uint64, what string,
	factory func(*Context, []byte) (T, error), wrap func(*Context, abi.Host, T) any) {
	var create func(abi.Host, string, []byte) (any, error)
	if factory != nil {
		create = func(host abi.Host, name string, config []byte) (any, error) {
			ctx := newContext(host, name)
			plugin, err := factory(ctx, config)
			if err != nil {
				return nil, err
			}
			if any(plugin) == nil {
				return nil, fmt.Errorf("evhost: the %s factory returned neither a %s nor an error", what, what)
			}
			return wrap(ctx, host, plugin), nil
		}
	}
	abi.Register(abi.Plugin{Kind: kind, Name: info.Name, Version: info.Version,
		Description: info.Description, Flags: flags, Create: create})
}

// consumer adapts a Consumer to abi.ConsumerInstance.
type consumer struct {
	ctx  *Context
	impl Consumer
}

func (c *consumer) OnEvents(events **abi.Event, n int) (int32, int) {
	r := c.impl.OnEvents(Batch{events: unsafe.Slice(events, n)})
	if r.status == abi.OK {
		return abi.OK, n
	}
	if r.err != nil {
		c.ctx.host.SetError(r.err.Error())
	}
	return r.status, min(max(r.handled, 0), n)
}

func (c *consumer) RequestStop() { c.ctx.requestStop() }

func (c *consumer) Stop() { c.impl.Stop() }

func (c *consumer) Destroy() {}

// producer adapts a Producer to abi.ProducerInstance.
type producer struct {
	ctx     *Context
	impl    Producer
	emitter *Emitter
}

func (p *producer) Run() int32 {
	err := p.impl.Run(p.emitter)
	if err == nil || errors.Is(err, ErrStopped) {
		return abi.OK
	}
	p.ctx.host.SetError(err.Error())
	return abi.Fail
}

func (p *producer) OnCommitted(committed uint64) {
	if listener, ok := p.impl.(CommitListener); ok {
		listener.OnCommitted(committed)
	}
}

func (p *producer) RequestStop() { p.ctx.requestStop() }

func (p *producer) Stop() { p.impl.Stop() }

func (p *producer) Destroy() { p.emitter.close() }
