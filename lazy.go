package lakebase

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/lakebase-go/lakebase/internal/backoff"
	"github.com/lakebase-go/lakebase/internal/credcache"
	"go.opentelemetry.io/otel/trace"
)

// lazyTimeout bounds one load of a lazy value (a lookup or a login): it runs
// detached from the callers who wait for it, so it needs a bound of its own.
const lazyTimeout = 2 * time.Minute

// After a failed load, the next one waits for a backoff that doubles with
// each failure in a row from the first wait to the last, as mints do.
const (
	lazyFirstBackoff = time.Second
	lazyLastBackoff  = time.Minute
)

// lazy is a value loaded on first use and kept until forgotten, with at most
// one load in flight however many goroutines ask. Each caller waits for the
// load only as long as its own context allows; the load itself runs under the
// connector's lifetime, so one caller giving up does not fail the others.
// A failed load is remembered for a backoff: callers meanwhile get its error
// at once, saying when the next attempt is, so that a wrong secret or an
// unknown instance costs the workspace one request per backoff, not one per
// Connect of a busy pool.
type lazy[T any] struct {
	load func(ctx context.Context) (T, error)
	kind string // what is looked up, for telemetry (telemetry.LookupHost, say)
	life *lifetime
	now  func() time.Time // nil: time.Now

	mu       sync.Mutex
	value    T
	ok       bool
	flight   *lazyFlight[T]
	failures int       // failed loads in a row
	lastErr  error     // the last failure, handed out until retryAt
	retryAt  time.Time // when the next load may start
}

// lazyFlight is one load in progress; done closes when value and err are set.
type lazyFlight[T any] struct {
	done  chan struct{}
	value T
	err   error
}

// get returns the value, loading it if needed. During the backoff after a
// failed load it returns that failure at once, as a *backoff.Error.
func (l *lazy[T]) get(ctx context.Context) (T, error) {
	var zero T
	l.mu.Lock()
	if l.ok {
		v := l.value
		l.mu.Unlock()
		return v, nil
	}
	f := l.flight
	if f == nil {
		if wait := l.retryAt.Sub(l.clock()); l.lastErr != nil && wait > 0 {
			err := l.lastErr
			l.mu.Unlock()
			return zero, &backoff.Error{Err: err, Next: wait}
		}
		f = &lazyFlight[T]{done: make(chan struct{})}
		l.flight = f
		var parent trace.Span // the span the lookup's own is a child of
		if l.life.tel != nil {
			parent = trace.SpanFromContext(ctx)
		}
		if !l.life.run(func(lifeCtx context.Context) { l.fill(lifeCtx, f, parent) }) {
			l.flight = nil
			l.mu.Unlock()
			return zero, ErrConnectorClosed
		}
	}
	l.mu.Unlock()
	select {
	case <-f.done:
		return f.value, f.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// fill runs one load and publishes its result.
func (l *lazy[T]) fill(lifeCtx context.Context, f *lazyFlight[T], parent trace.Span) {
	ctx, cancel := context.WithTimeout(lifeCtx, lazyTimeout)
	defer cancel()
	ctx, done := l.life.tel.Lookup(ctx, parent, l.kind)
	f.value, f.err = l.load(ctx)
	done(f.err)
	l.mu.Lock()
	switch {
	case f.err == nil:
		l.value, l.ok = f.value, true
		l.failures, l.lastErr = 0, nil
	case remembered(lifeCtx, f.err):
		l.failures++
		l.lastErr = f.err
		l.retryAt = l.clock().Add(lazyBackoff(l.failures, f.err))
	}
	l.flight = nil
	l.mu.Unlock()
	close(f.done)
}

// remembered reports whether a failed load starts a backoff. Not when the
// connector is closing: no one asks again. Not for ErrNotReady (a starting,
// updating or waking target): Connect paces those itself, pausing from
// 100ms up to 2s within its budget and forgetting the result after each
// pause, so that it connects soon after the target is ready; a backoff on
// top would only hand a stale "not ready" to the Connects that arrive
// meanwhile. And not for a failure that is itself another lazy value's
// backoff (the workspace login, under a lookup): that one paces the
// workspace already, and a second backoff would stack on the first.
func remembered(lifeCtx context.Context, err error) bool {
	var be *backoff.Error
	switch {
	case lifeCtx.Err() != nil, errors.Is(err, ErrConnectorClosed):
		return false
	case errors.Is(err, ErrNotReady), errors.As(err, &be):
		return false
	}
	return true
}

// lazyBackoff is the wait after the n-th failed load in a row, err: the
// doubling backoff, or longer when err says when to try again (a
// throttled workspace login's Retry-After).
func lazyBackoff(n int, err error) time.Duration {
	wait := backoff.Wait(n, lazyFirstBackoff, lazyLastBackoff)
	var ra credcache.RetryAfter
	if errors.As(err, &ra) {
		wait = max(wait, ra.RetryAfter())
	}
	return wait
}

// loaded returns the value and true if one is loaded.
func (l *lazy[T]) loaded() (T, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.value, l.ok
}

// forget drops the value, and any failure being remembered, so that the next
// get loads it again.
func (l *lazy[T]) forget() {
	l.mu.Lock()
	var zero T
	l.value, l.ok = zero, false
	l.failures, l.lastErr = 0, nil
	l.mu.Unlock()
}

// clock reads the time that backoffs are measured by.
func (l *lazy[T]) clock() time.Time {
	if l.now != nil {
		return l.now()
	}
	return time.Now()
}
