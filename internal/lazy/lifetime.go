package lazy

import (
	"context"
	"sync"

	"github.com/lakebase-go/lakebase/internal/telemetry"
)

// Lifetime is a connector's: background work runs under its context, which
// End cancels before waiting for that work to end.
type Lifetime struct {
	ctx    context.Context
	cancel context.CancelFunc
	Tel    *telemetry.Telemetry // the connector's, for the loads run under the lifetime; nil when off

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// NewLifetime starts a lifetime; End ends it.
func NewLifetime() *Lifetime {
	ctx, cancel := context.WithCancel(context.Background())
	return &Lifetime{ctx: ctx, cancel: cancel}
}

// Run starts fn in a goroutine unless the lifetime has ended.
func (l *Lifetime) Run(fn func(ctx context.Context)) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		fn(l.ctx)
	}()
	return true
}

// Tie returns ctx, also cancelled when the lifetime ends, and the function
// that unties it.
func (l *Lifetime) Tie(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(l.ctx, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// End cancels the background work and waits for it.
func (l *Lifetime) End() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.cancel()
	l.wg.Wait()
}
