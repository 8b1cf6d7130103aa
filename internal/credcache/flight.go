package credcache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lakebase-go/lakebase/internal/backoff"
)

// flight is one fetch, shared by everyone who waits for it.
type flight struct {
	done chan struct{} // closed when cred and err are set
	cred minted
	err  error
}

// startLocked starts a fetch; c.mu must be held and no fetch be in flight.
// The fetch sees the values of ctx but not its cancellation: a caller that
// gives up must not stop a fetch others wait for or will use. FetchTimeout
// and Close bound it instead.
func (c *Cache) startLocked(ctx context.Context, reason string) *flight {
	f := &flight{done: make(chan struct{})}
	c.flight = f
	c.inflight.Store(true)
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.FetchTimeout)
	stop := context.AfterFunc(c.life, cancel)
	c.running.Add(1)
	go func() {
		defer c.running.Done()
		defer cancel()
		defer stop()
		c.run(fctx, f, reason)
	}()
	return f
}

// run fetches, publishes the outcome to f's waiters and to the cache, and
// logs it.
func (c *Cache) run(ctx context.Context, f *flight, reason string) {
	c.log(slog.LevelDebug, "credcache: fetching credential", slog.String("reason", reason))
	refresh := reason == reasonRefresh
	if c.opts.Observer != nil {
		ctx = c.opts.Observer.FetchStarted(ctx, refresh)
	}
	started := time.Now()
	value, expiry, err := c.fetch(ctx)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %s: %w", c.opts.FetchTimeout, err)
	}
	took := time.Since(started)
	obtained := c.now()

	c.mu.Lock()
	c.land(f, minted{value, expiry}, err, obtained)
	failures, retryAt := c.failures, time.Unix(0, c.retryAt.Load())
	var servingUntil time.Time // the credential still handed out after a failure, read as it lands
	if e := c.cur.Load(); e != nil && obtained.Before(e.usableUntil) {
		servingUntil = e.usableUntil
	}
	c.flight = nil
	c.inflight.Store(false)
	c.mu.Unlock()
	// The observer hears the outcome before the waiters get it, so that a
	// connect that waited for this fetch returns with the fetch's span ended.
	if c.opts.Observer != nil {
		c.opts.Observer.FetchEnded(ctx, refresh, f.cred.expiry, f.err, took)
	}
	close(f.done)

	switch {
	case errors.Is(f.err, ErrClosed):
	case f.err != nil:
		attrs := []slog.Attr{slog.String("reason", reason), slog.Duration("took", took),
			slog.Any("error", f.err), slog.Int("failures", failures),
			slog.Duration("retry_in", retryAt.Sub(obtained))}
		if !servingUntil.IsZero() {
			attrs = append(attrs, slog.Time("serving_until", servingUntil))
		}
		c.log(slog.LevelWarn, "credcache: fetch failed", attrs...)
	default:
		c.log(slog.LevelInfo, "credcache: credential fetched", slog.String("reason", reason),
			slog.Duration("took", took), slog.Time("expiry", f.cred.expiry))
	}
}

// land records a fetch's outcome; c.mu must be held. A credential with an
// expiry replaces the cached one; one without is handed to f's waiters only,
// and drops the cached one, since its source no longer says how long
// credentials last.
func (c *Cache) land(f *flight, cred minted, err error, obtained time.Time) {
	if c.closed {
		f.err = ErrClosed
		return
	}
	if err == nil {
		if cred.expiry.IsZero() {
			c.cur.Store(nil)
			f.cred = cred
			c.succeeded()
			return
		}
		var e *entry
		if e, err = newEntry(cred, obtained, c.opts); err == nil {
			c.cur.Store(e)
			f.cred = e.cred
			c.succeeded()
			return
		}
	} else {
		err = fmt.Errorf("credcache: fetch failed: %w", err)
	}
	c.stats.MintFailures++
	c.failures++
	c.lastErr = err
	wait := backoff.Wait(c.failures, c.opts.MinBackoff, c.opts.MaxBackoff)
	hint, throttled := retryAfter(err)
	wait = max(wait, hint)
	retry := obtained.Add(wait)
	// While a credential is still handed out, try again no later than when
	// it stops being: the callers after that moment then wait for one more
	// attempt, which may succeed, instead of failing with this error. A
	// workspace that said when to come back is obeyed instead.
	if e := c.cur.Load(); !throttled && e != nil && obtained.Before(e.usableUntil) && e.usableUntil.Before(retry) {
		retry = e.usableUntil
	}
	c.retryAt.Store(retry.UnixNano())
	f.err = err
}

// succeeded resets the failure state after a good fetch; c.mu must be held.
func (c *Cache) succeeded() {
	c.stats.Minted++
	c.failures = 0
	c.lastErr = nil
	c.retryAt.Store(0)
}
