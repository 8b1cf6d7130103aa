package lakebase

import (
	"context"
	"sync"
	"time"
)

// lazyTimeout bounds one load of a lazy value (a lookup or a login): it runs
// detached from the callers who wait for it, so it needs a bound of its own.
const lazyTimeout = 2 * time.Minute

// lazy is a value loaded on first use and kept until forgotten, with at most
// one load in flight however many goroutines ask. Each caller waits for the
// load only as long as its own context allows; the load itself runs under the
// connector's lifetime, so one caller giving up does not fail the others.
type lazy[T any] struct {
	load func(ctx context.Context) (T, error)
	life *lifetime

	mu     sync.Mutex
	value  T
	ok     bool
	flight *lazyFlight[T]
}

// lazyFlight is one load in progress; done closes when value and err are set.
type lazyFlight[T any] struct {
	done  chan struct{}
	value T
	err   error
}

// get returns the value, loading it if needed.
func (l *lazy[T]) get(ctx context.Context) (T, error) {
	l.mu.Lock()
	if l.ok {
		v := l.value
		l.mu.Unlock()
		return v, nil
	}
	f := l.flight
	if f == nil {
		f = &lazyFlight[T]{done: make(chan struct{})}
		l.flight = f
		if !l.life.run(func(lifeCtx context.Context) { l.fill(lifeCtx, f) }) {
			l.flight = nil
			l.mu.Unlock()
			var zero T
			return zero, ErrConnectorClosed
		}
	}
	l.mu.Unlock()
	select {
	case <-f.done:
		return f.value, f.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// fill runs one load and publishes its result.
func (l *lazy[T]) fill(lifeCtx context.Context, f *lazyFlight[T]) {
	ctx, cancel := context.WithTimeout(lifeCtx, lazyTimeout)
	defer cancel()
	f.value, f.err = l.load(ctx)
	l.mu.Lock()
	if f.err == nil {
		l.value, l.ok = f.value, true
	}
	l.flight = nil
	l.mu.Unlock()
	close(f.done)
}

// forget drops the value so that the next get loads it again.
func (l *lazy[T]) forget() {
	l.mu.Lock()
	var zero T
	l.value, l.ok = zero, false
	l.mu.Unlock()
}

// lifetime is the connector's: background work runs under its context, which
// Close cancels before waiting for that work to end.
type lifetime struct {
	ctx    context.Context
	cancel context.CancelFunc

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
