package credcache

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// throttled is a fetch failure that says when to try again.
type throttled struct{ wait time.Duration }

func (e *throttled) Error() string             { return "throttled" }
func (e *throttled) RetryAfter() time.Duration { return e.wait }

// throttledFirst returns a stub whose first call is throttled for wait and
// whose later calls mint credentials living an hour.
func throttledFirst(wait time.Duration) *stub {
	return &stub{fn: func(_ context.Context, n int64) (minted, error) {
		if n == 1 {
			return minted{}, &throttled{wait}
		}
		return minted{secret(n), time.Now().Add(time.Hour)}, nil
	}}
}

func TestThrottledGetWaitsAsToldThenFetches(t *testing.T) {
	const wait = 300 * time.Millisecond
	s := throttledFirst(wait)
	c := New(s.fetch, Options{MinBackoff: time.Millisecond})
	defer c.Close()

	contexts := map[string]func() (context.Context, context.CancelFunc){
		"deadline after the wait": func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 10*time.Second)
		},
		"no deadline": func() (context.Context, context.CancelFunc) {
			return context.WithCancel(context.Background())
		},
	}
	start := time.Now()
	var wg sync.WaitGroup
	for name, mk := range contexts {
		for range 10 {
			wg.Go(func() {
				ctx, cancel := mk()
				defer cancel()
				cred, err := get(c, ctx)
				if err != nil || cred.value != secret(2) {
					t.Errorf("%s: Get = %v, %v; want %q", name, cred, err, secret(2))
				}
			})
		}
	}
	wg.Wait()
	if took := time.Since(start); took < wait {
		t.Errorf("Get returned after %s, before the %s the fetch was told to wait", took, wait)
	}
	if n := s.calls.Load(); n != 2 {
		t.Errorf("fetch called %d times, want 2", n)
	}
}

func TestThrottledGetFailsAtOnceWhenItsDeadlineIsSooner(t *testing.T) {
	s := throttledFirst(time.Minute)
	c := New(s.fetch, Options{MinBackoff: time.Millisecond})
	defer c.Close()

	for i := range 3 { // the first Get fetches; the others find the backoff
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := time.Now()
		_, err := get(c, ctx)
		took := time.Since(start)
		cancel()
		var ra RetryAfter
		if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ra) || ra.RetryAfter() != time.Minute {
			t.Fatalf("Get %d = %v, want the throttling and context.DeadlineExceeded", i, err)
		}
		if !strings.Contains(err.Error(), "beyond the deadline") {
			t.Errorf("Get %d = %q, want it to say the next attempt is beyond the deadline", i, err)
		}
		if took > time.Second {
			t.Errorf("Get %d took %s, want it to fail at once", i, took)
		}
	}
	if n := s.calls.Load(); n != 1 {
		t.Errorf("fetch called %d times, want 1", n)
	}
}

func TestThrottledRefreshWaitsAtLeastRetryAfter(t *testing.T) {
	clock := newClock()
	s := failingAt(clock, time.Hour, &throttled{10 * time.Minute}, 2)
	c := New(s.fetch, Options{Now: clock.Now, MinBackoff: time.Second, MaxBackoff: time.Second,
		RefreshWindow: 30 * time.Minute})
	defer c.Close()
	old := mustGet(t, c)

	clock.Advance(31 * time.Minute) // in the window: the refresh is throttled
	mustGet(t, c)
	waitIdle(c)
	for range 9 { // nine minutes: far past the backoff, not past Retry-After
		clock.Advance(time.Minute)
		if got := mustGet(t, c); got != old {
			t.Fatalf("Get = %v, want the current %v", got, old)
		}
		waitIdle(c)
	}
	if n := s.calls.Load(); n != 2 {
		t.Fatalf("fetch called %d times before Retry-After passed, want 2", n)
	}
	clock.Advance(time.Minute)
	mustGet(t, c)
	waitIdle(c)
	if got := mustGet(t, c); got.value != secret(3) {
		t.Errorf("Get after Retry-After = %q, want %q", got.value, secret(3))
	}
}

func TestCloseEndsThrottledWait(t *testing.T) {
	s := throttledFirst(time.Minute)
	c := New(s.fetch, Options{})
	ch := getAsync(c, context.Background())
	for c.Stats().MintFailures == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond) // let the Get start its wait
	c.Close()
	select {
	case r := <-ch:
		if !errors.Is(r.err, ErrClosed) {
			t.Errorf("Get = %v, want ErrClosed", r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Get still waits after Close")
	}
}
