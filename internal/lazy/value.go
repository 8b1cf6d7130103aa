// Package lazy holds what a connector loads once and shares: a Value loaded
// on first use with at most one load in flight and a backoff after a
// failure, and the Lifetime that such background loads run under, which the
// connector's Close ends.
package lazy

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/lakebase-go/lakebase/internal/backoff"
	"github.com/lakebase-go/lakebase/internal/controlplane"
	"github.com/lakebase-go/lakebase/internal/credcache"
	"go.opentelemetry.io/otel/trace"
)

// loadTimeout bounds one load of a lazy value (a lookup or a login): it runs
// detached from the callers who wait for it, so it needs a bound of its own.
const loadTimeout = 2 * time.Minute

// After a failed load, the next one waits for a backoff that doubles with
// each failure in a row from the first wait to the last, as mints do.
const (
	firstBackoff = time.Second
	lastBackoff  = time.Minute
)

// ErrClosed is what Get returns once the Lifetime has ended: the
// connector is closed.
var ErrClosed = errors.New("lakebase: connector is closed")

// Value is a value loaded on first use and kept until forgotten, with at most
// one load in flight however many goroutines ask. Each caller waits for the
// load only as long as its own context allows; the load itself runs under the
// connector's lifetime, so one caller giving up does not fail the others.
// A failed load is remembered for a backoff: callers meanwhile get its error
// at once, saying when the next attempt is, so that a wrong secret or an
// unknown instance costs the workspace one request per backoff, not one per
// Connect of a busy pool.
type Value[T any] struct {
	Load func(ctx context.Context) (T, error)
	Kind string // what is looked up, for telemetry (telemetry.LookupHost, say)
	Life *Lifetime
	Now  func() time.Time // nil: time.Now

	mu       sync.Mutex
	value    T
	ok       bool
	flight   *flight[T]
	landed   chan struct{} // closed when a value is loaded, for Await; nil until one waits
	failures int           // failed loads in a row
	lastErr  error         // the last failure, handed out until retryAt
	retryAt  time.Time     // when the next load may start
}

// flight is one load in progress; done closes when value and err are set.
type flight[T any] struct {
	done  chan struct{}
	value T
	err   error
}

// Get returns the value, loading it if needed. During the backoff after a
// failed load it returns that failure at once, as a *backoff.Error.
func (l *Value[T]) Get(ctx context.Context) (T, error) {
	var zero T
	l.mu.Lock()
	if l.ok {
		v := l.value
		l.mu.Unlock()
		return v, nil
	}
	f, err := l.startLocked(ctx)
	l.mu.Unlock()
	if err != nil {
		return zero, err
	}
	select {
	case <-f.done:
		return f.value, f.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// Await waits until a value is loaded, by whoever asks for it, without
// starting a load; false when ctx ends first.
func (l *Value[T]) Await(ctx context.Context) (T, bool) {
	l.mu.Lock()
	if l.ok {
		v := l.value
		l.mu.Unlock()
		return v, true
	}
	if l.landed == nil {
		l.landed = make(chan struct{})
	}
	landed := l.landed
	l.mu.Unlock()
	select {
	case <-landed:
		return l.Loaded()
	case <-ctx.Done():
		var zero T
		return zero, false
	}
}

// startLocked returns the load in flight, or starts one; during the backoff
// after a failed load it returns that failure, as a *backoff.Error. l.mu
// is held.
func (l *Value[T]) startLocked(ctx context.Context) (*flight[T], error) {
	if l.flight != nil {
		return l.flight, nil
	}
	if wait := l.retryAt.Sub(l.clock()); l.lastErr != nil && wait > 0 {
		return nil, &backoff.Error{Err: l.lastErr, Next: wait}
	}
	f := &flight[T]{done: make(chan struct{})}
	var parent trace.Span // the span the lookup's own is a child of
	if l.Life.Tel != nil {
		parent = trace.SpanFromContext(ctx)
	}
	if !l.Life.Run(func(lifeCtx context.Context) { l.fill(lifeCtx, f, parent) }) {
		return nil, ErrClosed
	}
	l.flight = f
	return f, nil
}

// fill runs one load and publishes its result.
func (l *Value[T]) fill(lifeCtx context.Context, f *flight[T], parent trace.Span) {
	ctx, cancel := context.WithTimeout(lifeCtx, loadTimeout)
	defer cancel()
	ctx, done := l.Life.Tel.Lookup(ctx, parent, l.Kind)
	f.value, f.err = l.Load(ctx)
	done(f.err)
	l.mu.Lock()
	switch {
	case f.err == nil:
		l.value, l.ok = f.value, true
		l.failures, l.lastErr = 0, nil
		if l.landed != nil {
			close(l.landed)
			l.landed = nil
		}
	case remembered(lifeCtx, f.err):
		l.failures++
		l.lastErr = f.err
		l.retryAt = l.clock().Add(backoffAfter(l.failures, f.err))
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
	case lifeCtx.Err() != nil, errors.Is(err, ErrClosed):
		return false
	case errors.Is(err, controlplane.ErrNotReady), errors.As(err, &be):
		return false
	}
	return true
}

// backoffAfter is the wait after the n-th failed load in a row, err: the
// doubling backoff, or longer when err says when to try again (a
// throttled workspace login's Retry-After).
func backoffAfter(n int, err error) time.Duration {
	wait := backoff.Wait(n, firstBackoff, lastBackoff)
	var ra credcache.RetryAfter
	if errors.As(err, &ra) {
		wait = max(wait, ra.RetryAfter())
	}
	return wait
}

// Loaded returns the value and true if one is loaded.
func (l *Value[T]) Loaded() (T, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.value, l.ok
}

// Cold reports whether nothing is known yet: no value is loaded and no
// failure is remembered. A load may be in flight.
func (l *Value[T]) Cold() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.ok && (l.lastErr == nil || !l.clock().Before(l.retryAt))
}

// Forget drops the value, and any failure being remembered, so that the next
// Get loads it again.
func (l *Value[T]) Forget() {
	l.mu.Lock()
	var zero T
	l.value, l.ok = zero, false
	l.failures, l.lastErr = 0, nil
	l.mu.Unlock()
}

// clock reads the time that backoffs are measured by.
func (l *Value[T]) clock() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}
