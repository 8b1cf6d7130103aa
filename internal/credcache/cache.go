package credcache

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lakebase-go/lakebase/internal/backoff"
)

// Cache hands out a valid credential, fetching a new one when needed. It is
// safe for concurrent use. Close it to stop a fetch in progress.
type Cache struct {
	fetch Fetcher
	opts  Options // with defaults; never changed

	// cur is the cached credential, read without a lock; nil when there is
	// none. It is replaced only with mu held.
	cur atomic.Pointer[entry]
	// inflight mirrors flight != nil for lock-free readers.
	inflight atomic.Bool
	// retryAt is when the next fetch may start after a failure, in Unix
	// nanoseconds; 0 when the last fetch succeeded. Written with mu held.
	retryAt atomic.Int64

	mu       sync.Mutex
	flight   *flight // the fetch in progress, if any
	closed   bool
	failures int   // consecutive failed fetches
	lastErr  error // the last failure, returned while waiting to retry
	// refusals counts unconfirmed credentials dropped in a row after a
	// refused login; keepRefusedUntil is when the next may be dropped.
	refusals         int
	keepRefusedUntil time.Time
	stats            Stats // counters; Expiry and Refreshing are filled by Stats()

	life    context.Context // cancelled by Close; stops fetches
	end     context.CancelFunc
	running sync.WaitGroup // the fetch goroutine
}

// Stats describes a Cache at one moment.
type Stats struct {
	// Minted counts successful fetches.
	Minted uint64
	// MintFailures counts failed fetches, including those that returned an
	// expired credential.
	MintFailures uint64
	// Invalidations counts credentials dropped by Invalidate.
	Invalidations uint64
	// Waits counts the Gets that found no usable credential and waited for
	// a fetch. Early refresh keeps it at the cold starts (and rejected
	// logins): a Get inside the refresh window does not wait.
	Waits uint64
	// Expiry is the cached credential's expiry; zero when none is cached.
	Expiry time.Time
	// Refreshing reports a fetch in progress (in the background or awaited).
	Refreshing bool
}

// reasonRefresh is the reason of a background fetch: the cached credential
// is inside its refresh window and still handed out.
const reasonRefresh = "refresh"

// New returns a cache that gets its credentials from fetch.
func New(fetch Fetcher, opts Options) *Cache {
	life, end := context.WithCancel(context.Background())
	return &Cache{fetch: fetch, opts: opts.withDefaults(), life: life, end: end}
}

// now reads the clock without its monotonic reading.
func (c *Cache) now() time.Time { return c.opts.Now().Round(0) }

// Get returns a credential valid for at least the safety margin. A cached one
// comes back at once, without a lock or an allocation; inside the refresh
// window the first caller also starts a background fetch. Otherwise Get waits
// for the one shared fetch until it lands or ctx ends, and then returns
// ctx.Err().
func (c *Cache) Get(ctx context.Context) (value string, expiry time.Time, err error) {
	if e := c.cur.Load(); e != nil {
		now := c.now()
		if now.Before(e.refreshAt) {
			return e.cred.value, e.cred.expiry, nil
		}
		if now.Before(e.usableUntil) {
			c.refreshEarly(ctx, e, now)
			return e.cred.value, e.cred.expiry, nil
		}
	}
	cred, err := c.await(ctx)
	return cred.value, cred.expiry, err
}

// Prefetch starts a fetch when there is no usable credential, none is in
// flight and no failure's backoff is running, and returns at once; it
// counts no wait. A Get that follows joins the fetch. The fetch's span is
// a child of ctx's.
func (c *Cache) Prefetch(ctx context.Context) {
	if e := c.cur.Load(); e != nil && c.now().Before(e.usableUntil) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.flight != nil || c.now().UnixNano() < c.retryAt.Load() {
		return
	}
	if e := c.cur.Load(); e != nil && c.now().Before(e.usableUntil) {
		return
	}
	c.startLocked(ctx, "ahead of the lookup")
}

// refreshEarly starts a background fetch to replace e, unless one is running,
// the last failure's backoff is not over, or e was replaced meanwhile.
func (c *Cache) refreshEarly(ctx context.Context, e *entry, now time.Time) {
	if c.inflight.Load() || now.UnixNano() < c.retryAt.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.flight != nil || c.cur.Load() != e {
		return
	}
	c.startLocked(ctx, reasonRefresh)
}

// await serves a caller that found no usable credential: it joins the fetch in
// flight or starts one. During the backoff after a failure it returns that
// failure at once, unless the failure said when to try again (a throttled
// mint, see RetryAfter): then it waits for that moment and fetches, if ctx's
// deadline allows, and otherwise fails at once.
func (c *Cache) await(ctx context.Context) (minted, error) {
	for {
		if err := ctx.Err(); err != nil {
			return minted{}, err
		}
		cred, f, wait, err := c.join(ctx)
		switch {
		case err != nil:
			return minted{}, err
		case wait > 0:
			if err := c.sleep(ctx, wait); err != nil {
				return minted{}, err
			}
			continue
		case f == nil:
			return cred, nil
		}
		select {
		case <-f.done:
			if _, throttled := retryAfter(f.err); throttled {
				continue // wait for the moment it names, or fail now
			}
			return f.cred, f.err
		case <-ctx.Done():
			return minted{}, ctx.Err()
		case <-c.life.Done():
			return minted{}, ErrClosed
		}
	}
}

// join gives a caller without a usable credential what to do next: take cred
// (one landed meanwhile), wait for f, sleep for wait and look again, or fail
// with err.
func (c *Cache) join(ctx context.Context) (cred minted, f *flight, wait time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return minted{}, nil, 0, ErrClosed
	}
	now := c.now()
	if e := c.cur.Load(); e != nil && now.Before(e.usableUntil) {
		return e.cred, nil, 0, nil // a fetch landed since Get looked
	}
	if c.flight != nil {
		c.stats.Waits++
		return minted{}, c.flight, 0, nil
	}
	if wait := time.Duration(c.retryAt.Load() - now.UnixNano()); c.lastErr != nil && wait > 0 {
		if _, throttled := retryAfter(c.lastErr); !throttled {
			return minted{}, nil, 0, &backoff.Error{Err: c.lastErr, Next: wait}
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return minted{}, nil, 0, fmt.Errorf("%w (next attempt in %s, beyond the deadline: %w)",
				c.lastErr, wait.Round(time.Millisecond), context.DeadlineExceeded)
		}
		return minted{}, nil, wait, nil
	}
	c.stats.Waits++
	return minted{}, c.startLocked(ctx, "no usable credential"), 0, nil
}

// sleep waits for d, and returns ctx's error if it ends first, or ErrClosed
// if the cache closes.
func (c *Cache) sleep(ctx context.Context, d time.Duration) error {
	if backoff.Sleep(ctx, d, c.life.Done()) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return ErrClosed
}

// Close stops a fetch in progress, waits for it to return, and makes later
// calls to Get fail with ErrClosed. Calling it again is harmless.
func (c *Cache) Close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		c.cur.Store(nil)
		c.end()
	}
	c.mu.Unlock()
	c.running.Wait()
}

// Stats returns the counters and the state of the cache.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	if e := c.cur.Load(); e != nil {
		s.Expiry = e.cred.expiry
	}
	s.Refreshing = c.flight != nil
	return s
}

// log writes to the logger, if there is one.
func (c *Cache) log(level slog.Level, msg string, attrs ...slog.Attr) {
	if c.opts.Logger != nil {
		c.opts.Logger.LogAttrs(context.Background(), level, msg, attrs...)
	}
}
