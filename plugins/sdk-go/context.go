package evhost

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/evhost/evhost/plugins/sdk-go/internal/abi"
)

// Context is one plugin instance's link to the host: its name, the host's log, and
// whether the host has asked it to stop. The factory receives it; keep it for later.
// All methods are safe for concurrent use from any goroutine.
type Context struct {
	name     string
	host     abi.Host
	stopping atomic.Bool
	stopOnce sync.Once
	done     chan struct{}
}

func newContext(host abi.Host, name string) *Context {
	return &Context{name: name, host: host, done: make(chan struct{})}
}

// Name is the instance name from the host's config.
func (c *Context) Name() string { return c.name }

// ConfigDir is the folder of the host's config file (absolute).
func (c *Context) ConfigDir() string { return c.host.ConfigDir }

// Resolve returns path from the plugin's config the way the host resolves its own: a
// relative path is relative to the config file's folder. "-" (stdout by convention),
// absolute paths and an empty one (for the plugin's check to refuse) come back as they are.
func (c *Context) Resolve(path string) string {
	if path == "" || path == "-" || filepath.IsAbs(path) || c.host.ConfigDir == "" {
		return path
	}
	return filepath.Join(c.host.ConfigDir, path)
}

// StopRequested reports whether the host has asked this instance to stop, either by
// calling Stop or through the host's stop flag. A producer's Run polls it between batches.
func (c *Context) StopRequested() bool {
	return c.stopping.Load() || c.host.StopRequested()
}

// Done is closed when the host calls Stop on this instance, before the plugin's own Stop
// runs. Select on it in goroutines that should end with the instance.
func (c *Context) Done() <-chan struct{} { return c.done }

func (c *Context) requestStop() {
	c.stopOnce.Do(func() {
		c.stopping.Store(true)
		close(c.done)
	})
}

// Errorf writes an error line to the host's log, attributed to this instance.
func (c *Context) Errorf(format string, args ...any) { c.logf(abi.LogError, format, args) }

// Warnf writes a warning line to the host's log.
func (c *Context) Warnf(format string, args ...any) { c.logf(abi.LogWarn, format, args) }

// Infof writes an informational line to the host's log.
func (c *Context) Infof(format string, args ...any) { c.logf(abi.LogInfo, format, args) }

// Debugf writes a debug line to the host's log. The host filters by level after the
// message is formatted, so keep Debugf out of per-event paths.
func (c *Context) Debugf(format string, args ...any) { c.logf(abi.LogDebug, format, args) }

// Tracef writes a trace line to the host's log; the Debugf caveat applies.
func (c *Context) Tracef(format string, args ...any) { c.logf(abi.LogTrace, format, args) }

func (c *Context) logf(level uint32, format string, args []any) {
	c.host.Log(level, fmt.Sprintf(format, args...))
}
