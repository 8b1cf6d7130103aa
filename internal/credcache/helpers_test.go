package credcache

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is a wall clock that moves only when the test says so.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: epoch} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// stub is a Fetcher whose n-th call (from 1) returns what fn says.
type stub struct {
	calls atomic.Int64
	fn    func(ctx context.Context, n int64) (minted, error)
}

func (s *stub) fetch(ctx context.Context) (string, time.Time, error) {
	cred, err := s.fn(ctx, s.calls.Add(1))
	return cred.value, cred.expiry, err
}

// secret is the value of the n-th credential a stub mints.
func secret(n int64) string { return fmt.Sprintf("secret-%d", n) }

// minting returns a stub whose every call succeeds with a credential expiring
// lifetime after the clock's time.
func minting(clock *fakeClock, lifetime time.Duration) *stub {
	return &stub{fn: func(_ context.Context, n int64) (minted, error) {
		return minted{secret(n), clock.Now().Add(lifetime)}, nil
	}}
}

// failingAt returns a minting stub whose calls numbered in calls fail with
// err.
func failingAt(clock *fakeClock, lifetime time.Duration, err error, calls ...int64) *stub {
	s := minting(clock, lifetime)
	mint := s.fn
	s.fn = func(ctx context.Context, n int64) (minted, error) {
		if slices.Contains(calls, n) {
			return minted{}, err
		}
		return mint(ctx, n)
	}
	return s
}

// held returns a minting stub whose calls numbered in calls (every call,
// when none is named) wait for release before they mint; a call whose
// context ended meanwhile fails with the context's error, as a fetch that
// honours it does.
func held(clock *fakeClock, release <-chan struct{}, calls ...int64) *stub {
	s := minting(clock, time.Hour)
	mint := s.fn
	s.fn = func(ctx context.Context, n int64) (minted, error) {
		if len(calls) == 0 || slices.Contains(calls, n) {
			<-release
			if err := ctx.Err(); err != nil {
				return minted{}, err
			}
		}
		return mint(ctx, n)
	}
	return s
}

// waitIdle waits until the fetch in flight, if any, has landed.
func waitIdle(c *Cache) {
	c.mu.Lock()
	f := c.flight
	c.mu.Unlock()
	if f != nil {
		<-f.done
	}
}

// spyCtx reports on joined when Get starts to wait on its Done channel,
// which it does only after joining the fetch in flight.
type spyCtx struct {
	context.Context
	once   sync.Once
	joined chan<- struct{}
}

func (s *spyCtx) Done() <-chan struct{} {
	s.once.Do(func() { s.joined <- struct{}{} })
	return s.Context.Done()
}

// result is what one Get returned.
type result struct {
	cred minted
	err  error
}

// getAsync calls Get in a goroutine and delivers its result on the channel.
func getAsync(c *Cache, ctx context.Context) <-chan result {
	ch := make(chan result, 1)
	go func() {
		cred, err := get(c, ctx)
		ch <- result{cred, err}
	}()
	return ch
}

// mustGet calls Get and fails the test on an error.
func mustGet(t *testing.T, c *Cache) minted {
	t.Helper()
	cred, err := get(c, context.Background())
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return cred
}

// get calls Get and returns what it got as one value.
func get(c *Cache, ctx context.Context) (minted, error) {
	value, expiry, err := c.Get(ctx)
	return minted{value, expiry}, err
}

// blocked is a Fetcher that returns only when its context ends.
func blocked(ctx context.Context) (string, time.Time, error) {
	<-ctx.Done()
	return "", time.Time{}, ctx.Err()
}

// warmCache returns a cache that holds a credential valid for an hour, for
// the tests and benchmarks of a cache hit.
func warmCache(tb testing.TB) *Cache {
	tb.Helper()
	c := New(func(context.Context) (string, time.Time, error) {
		return "v", time.Now().Add(time.Hour), nil
	}, Options{})
	tb.Cleanup(c.Close)
	if _, _, err := c.Get(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return c
}
