package lakebase

import (
	"context"
	"sync"

	"github.com/lakebase-go/lakebase/internal/telemetry"
)

// lifetime is the connector's: background work runs under its context, which
// Close cancels before waiting for that work to end.
type lifetime struct {
	ctx    context.Context
	cancel context.CancelFunc
	tel    *telemetry.Telemetry // the connector's, for the lookups run under the lifetime; nil when off

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func newLifetime() *lifetime {
	ctx, cancel := context.WithCancel(context.Background())
	return &lifetime{ctx: ctx, cancel: cancel}
}

// run starts fn in a goroutine unless the lifetime has ended.
func (l *lifetime) run(fn func(ctx context.Context)) bool {
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

// tie returns ctx, also cancelled when the lifetime ends, and the function
// that unties it.
func (l *lifetime) tie(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(l.ctx, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// end cancels the background work and waits for it.
func (l *lifetime) end() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.cancel()
	l.wg.Wait()
}
