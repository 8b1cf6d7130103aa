package credcache

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestGetReusesValidCredential(t *testing.T) {
	clock := newClock()
	s := minting(clock, time.Hour)
	c := New(s.fetch, Options{Now: clock.Now})
	defer c.Close()

	first := mustGet(t, c)
	for range 100 {
		clock.Advance(30 * time.Second) // 50 minutes in all: before the window
		if got := mustGet(t, c); got != first {
			t.Fatalf("Get = %v, want the first credential %v", got, first)
		}
	}
	if n := s.calls.Load(); n != 1 {
		t.Errorf("fetch called %d times, want 1", n)
	}
	st := c.Stats()
	if st.Minted != 1 || !st.Expiry.Equal(epoch.Add(time.Hour)) || st.Refreshing {
		t.Errorf("Stats = %+v", st)
	}
}

func TestGetHitDoesNotAllocate(t *testing.T) {
	c := warmCache(t)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if _, _, err := c.Get(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("a cache hit allocates %v times, want 0", allocs)
	}
}

func TestEarlyRefreshServesCurrentCredential(t *testing.T) {
	clock := newClock()
	release := make(chan struct{})
	s := held(clock, release, 2)
	c := New(s.fetch, Options{Now: clock.Now})
	defer c.Close()
	old := mustGet(t, c)

	clock.Advance(56 * time.Minute) // default window: the last 5 minutes
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if got := mustGet(t, c); got != old {
				t.Errorf("Get during the refresh = %v, want the current %v", got, old)
			}
		})
	}
	wg.Wait() // all returned while the refresh is still blocked
	if !c.Stats().Refreshing {
		t.Error("Stats.Refreshing = false during the refresh")
	}

	close(release)
	waitIdle(c)
	if got := mustGet(t, c); got.value != secret(2) {
		t.Errorf("Get after the refresh = %q, want %q", got.value, secret(2))
	}
	if n := s.calls.Load(); n != 2 {
		t.Errorf("fetch called %d times, want 2", n)
	}
	if st := c.Stats(); st.Waits != 1 {
		t.Errorf("Stats.Waits = %d, want 1: only the first Get waits", st.Waits)
	}
}

func TestColdGetsShareOneFetch(t *testing.T) {
	const callers = 200
	clock := newClock()
	release := make(chan struct{})
	s := held(clock, release)
	c := New(s.fetch, Options{Now: clock.Now})
	defer c.Close()

	joined := make(chan struct{}, callers)
	results := make([]<-chan result, callers)
	for i := range results {
		results[i] = getAsync(c, &spyCtx{Context: context.Background(), joined: joined})
	}
	for range callers {
		<-joined // every caller is waiting for the fetch
	}
	close(release)
	for _, ch := range results {
		r := <-ch
		if r.err != nil || r.cred.value != secret(1) {
			t.Fatalf("Get = %v, %v; want %q", r.cred, r.err, secret(1))
		}
	}
	if n := s.calls.Load(); n != 1 {
		t.Errorf("fetch called %d times, want 1", n)
	}
	if st := c.Stats(); st.Waits != callers {
		t.Errorf("Stats.Waits = %d, want %d", st.Waits, callers)
	}
}

type ctxKey struct{}

func TestWaiterHonoursItsOwnContext(t *testing.T) {
	clock := newClock()
	release := make(chan struct{})
	fetchCtx := make(chan context.Context, 1)
	s := minting(clock, time.Hour)
	mint := s.fn
	s.fn = func(ctx context.Context, n int64) (minted, error) {
		fetchCtx <- ctx
		<-release
		return mint(ctx, n)
	}
	c := New(s.fetch, Options{Now: clock.Now})
	defer c.Close()

	base := context.WithValue(context.Background(), ctxKey{}, "caller's value")
	joined := make(chan struct{}, 2)
	quitter, quit := context.WithCancel(base)
	gone := getAsync(c, &spyCtx{Context: quitter, joined: joined})
	<-joined
	stays := getAsync(c, &spyCtx{Context: base, joined: joined})
	<-joined

	quit()
	if r := <-gone; !errors.Is(r.err, context.Canceled) || r.cred != (minted{}) {
		t.Errorf("cancelled waiter got %v, %v; want context.Canceled", r.cred, r.err)
	}
	fctx := <-fetchCtx
	if err := fctx.Err(); err != nil {
		t.Errorf("the fetch's context ended with a waiter's: %v", err)
	}
	if _, ok := fctx.Deadline(); !ok {
		t.Error("the fetch's context has no deadline")
	}
	if v := fctx.Value(ctxKey{}); v != "caller's value" {
		t.Errorf("the fetch's context lost the caller's values: %v", v)
	}
	close(release)
	if r := <-stays; r.err != nil || r.cred.value != secret(1) {
		t.Errorf("remaining waiter got %v, %v; want %q", r.cred, r.err, secret(1))
	}
}

func TestFetchOutlivesWaitersWhoLeft(t *testing.T) {
	clock := newClock()
	release := make(chan struct{})
	s := held(clock, release)
	c := New(s.fetch, Options{Now: clock.Now})
	defer c.Close()

	joined := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	ch := getAsync(c, &spyCtx{Context: ctx, joined: joined})
	<-joined
	cancel()
	if r := <-ch; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Get = %v, want context.Canceled", r.err)
	}
	close(release) // the fetch goes on with nobody waiting
	waitIdle(c)
	if got := mustGet(t, c); got.value != secret(1) {
		t.Errorf("Get = %q, want the credential fetched for the caller who left", got.value)
	}
	if n := s.calls.Load(); n != 1 {
		t.Errorf("fetch called %d times, want 1", n)
	}
}

func TestGetWithEndedContextDoesNotFetch(t *testing.T) {
	s := minting(newClock(), time.Hour)
	c := New(s.fetch, Options{})
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := get(c, ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Get = %v, want context.Canceled", err)
	}
	if n := s.calls.Load(); n != 0 {
		t.Errorf("fetch called %d times, want 0", n)
	}
}

func TestFetchTimeout(t *testing.T) {
	c := New(blocked, Options{FetchTimeout: 10 * time.Millisecond})
	defer c.Close()
	_, err := get(c, context.Background())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 10ms") {
		t.Errorf("Get = %v, want a timeout", err)
	}
}

var errBoom = errors.New("boom")

// mintErr is a typed fetch failure, for errors.As.
type mintErr struct{ status int }

func (e *mintErr) Error() string { return "mint refused" }

func TestFailedRefreshKeepsServingAndBacksOff(t *testing.T) {
	clock := newClock()
	s := failingAt(clock, time.Hour, errBoom, 2, 3)
	c := New(s.fetch, Options{Now: clock.Now, MinBackoff: time.Second, MaxBackoff: time.Minute})
	defer c.Close()
	old := mustGet(t, c)
	clock.Advance(56 * time.Minute)

	// Each step: Gets at one instant, and how many fetches there were after.
	steps := []struct {
		advance time.Duration
		calls   int64
	}{
		{0, 2},           // the first Get in the window starts a refresh; it fails
		{0, 2},           // backing off: no fetch however many Gets
		{time.Second, 3}, // first backoff (at most 1s) over: fails again
		{time.Second, 3}, // second backoff is between 1s and 2s
		{time.Second, 4}, // now it is over: succeeds
	}
	for i, step := range steps {
		clock.Advance(step.advance)
		for range 10 {
			got := mustGet(t, c)
			if n := s.calls.Load(); n < 4 && got != old {
				t.Fatalf("step %d: Get = %v, want the current %v", i, got, old)
			}
			waitIdle(c)
		}
		if n := s.calls.Load(); n != step.calls {
			t.Fatalf("step %d: fetch called %d times, want %d", i, n, step.calls)
		}
	}
	if got := mustGet(t, c); got.value != secret(4) {
		t.Errorf("Get = %q, want %q", got.value, secret(4))
	}
	if st := c.Stats(); st.Minted != 2 || st.MintFailures != 2 {
		t.Errorf("Stats = %+v, want 2 minted and 2 failures", st)
	}
}

func TestBackoffEndsWhenTheCurrentCredentialStopsServing(t *testing.T) {
	clock := newClock()
	s := failingAt(clock, time.Hour, errBoom, 2)
	// A backoff far longer than what is left of the current credential.
	c := New(s.fetch, Options{Now: clock.Now, MinBackoff: 10 * time.Minute, MaxBackoff: 10 * time.Minute})
	defer c.Close()
	old := mustGet(t, c)

	clock.Advance(59 * time.Minute) // in the window, 30s before the margin
	if got := mustGet(t, c); got != old {
		t.Fatalf("Get = %v, want the current %v", got, old)
	}
	waitIdle(c) // the refresh failed
	clock.Advance(30 * time.Second)
	// The credential no longer serves: instead of failing with the old error
	// until the backoff is over, the next Get tries again, and waits.
	if got := mustGet(t, c); got.value != secret(3) {
		t.Errorf("Get after the credential stopped serving = %q, want the new %q", got.value, secret(3))
	}
}

func TestColdFailureIsReturnedThenRetriedAfterBackoff(t *testing.T) {
	clock := newClock()
	s := failingAt(clock, time.Hour, &mintErr{status: 403}, 1)
	c := New(s.fetch, Options{Now: clock.Now, MinBackoff: time.Second})
	defer c.Close()

	check := func(err error, wantText string) {
		t.Helper()
		var me *mintErr
		if !errors.As(err, &me) || me.status != 403 {
			t.Errorf("error %v does not carry the fetch's *mintErr", err)
		}
		if !strings.HasPrefix(err.Error(), "credcache: fetch failed: mint refused") ||
			!strings.Contains(err.Error(), wantText) {
			t.Errorf("error = %q, want it to contain %q", err, wantText)
		}
	}
	_, err := get(c, context.Background())
	check(err, "")
	_, err = get(c, context.Background()) // within the backoff: the same failure, no fetch
	check(err, "next attempt in")
	if n := s.calls.Load(); n != 1 {
		t.Fatalf("fetch called %d times during the backoff, want 1", n)
	}

	clock.Advance(time.Second)
	if got := mustGet(t, c); got.value != secret(2) {
		t.Errorf("Get after the backoff = %q, want %q", got.value, secret(2))
	}
}

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

func TestInvalidate(t *testing.T) {
	tests := []struct {
		name       string
		value      string
		wantDrop   bool
		wantSecret string
	}{
		{"current value", secret(1), true, secret(2)},
		{"stale value", "secret-0", false, secret(1)},
		{"empty value", "", false, secret(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			s := minting(clock, time.Hour)
			c := New(s.fetch, Options{Now: clock.Now})
			defer c.Close()
			mustGet(t, c)
			c.Invalidate(tt.value)
			if got := mustGet(t, c); got.value != tt.wantSecret {
				t.Errorf("Get after Invalidate = %q, want %q", got.value, tt.wantSecret)
			}
			if st := c.Stats(); (st.Invalidations == 1) != tt.wantDrop {
				t.Errorf("Stats.Invalidations = %d, want a drop: %v", st.Invalidations, tt.wantDrop)
			}
		})
	}
}

func TestInvalidateEmptyCache(t *testing.T) {
	c := New(minting(newClock(), time.Hour).fetch, Options{})
	defer c.Close()
	c.Invalidate("anything")
	if st := c.Stats(); st.Invalidations != 0 {
		t.Errorf("Stats.Invalidations = %d, want 0", st.Invalidations)
	}
}

func TestWallClockJumpNeverServesExpired(t *testing.T) {
	tests := []struct {
		name string
		jump time.Duration // from the fetch; the credential lives 1h, margin 30s
	}{
		{"into the margin", time.Hour - 20*time.Second},
		{"to the expiry", time.Hour},
		{"past the expiry", 9 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			s := failingAt(clock, time.Hour, errBoom, 2)
			c := New(s.fetch, Options{Now: clock.Now})
			defer c.Close()
			mustGet(t, c)

			clock.Set(epoch.Add(tt.jump))
			if got, err := get(c, context.Background()); !errors.Is(err, errBoom) {
				t.Errorf("Get after the jump = %v, %v; want the failed fetch's error", got, err)
			}
			clock.Advance(defaultMaxBackoff)
			if got := mustGet(t, c); got.value != secret(3) {
				t.Errorf("Get = %q, want a new credential %q", got.value, secret(3))
			}
		})
	}
}

func TestCredentialWithoutExpiryIsNotCached(t *testing.T) {
	clock := newClock()
	s := minting(clock, time.Hour)
	mint := s.fn
	s.fn = func(ctx context.Context, n int64) (minted, error) {
		if n == 1 {
			return mint(ctx, n)
		}
		return minted{value: secret(n)}, nil
	}
	c := New(s.fetch, Options{Now: clock.Now})
	defer c.Close()
	mustGet(t, c)

	// A background refresh that brings no expiry drops the cached credential.
	clock.Advance(56 * time.Minute)
	mustGet(t, c)
	waitIdle(c)
	if st := c.Stats(); !st.Expiry.IsZero() {
		t.Errorf("Stats.Expiry = %v after a credential without expiry, want zero", st.Expiry)
	}
	for want := int64(3); want <= 7; want++ {
		if got := mustGet(t, c); got.value != secret(want) {
			t.Errorf("Get = %q, want a fresh %q", got.value, secret(want))
		}
	}
	if n := s.calls.Load(); n != 7 {
		t.Errorf("fetch called %d times, want 7", n)
	}
}

func TestFetchOfExpiredCredentialFails(t *testing.T) {
	tests := []struct {
		name   string
		expiry time.Duration // from the fetch
		margin time.Duration
	}{
		{"already expired", -time.Second, 0},
		{"expiring as fetched", 0, 0},
		{"within an explicit margin", 10 * time.Second, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			s := minting(clock, tt.expiry)
			c := New(s.fetch, Options{Now: clock.Now, SafetyMargin: tt.margin})
			defer c.Close()
			got, err := get(c, context.Background())
			if !errors.Is(err, ErrExpired) || got != (minted{}) {
				t.Errorf("Get = %v, %v; want ErrExpired", got, err)
			}
			if n := s.calls.Load(); n != 1 {
				t.Errorf("fetch called %d times, want 1", n)
			}
			if st := c.Stats(); st.MintFailures != 1 || st.Minted != 0 {
				t.Errorf("Stats = %+v, want one failure", st)
			}
		})
	}
}

func TestCloseStopsBackgroundRefresh(t *testing.T) {
	clock := newClock()
	started := make(chan struct{})
	var refreshErr error
	s := minting(clock, time.Hour)
	mint := s.fn
	s.fn = func(ctx context.Context, n int64) (minted, error) {
		if n == 1 {
			return mint(ctx, n)
		}
		close(started)
		<-ctx.Done()
		refreshErr = ctx.Err()
		return minted{}, refreshErr
	}
	c := New(s.fetch, Options{Now: clock.Now})
	mustGet(t, c)
	clock.Advance(56 * time.Minute)
	mustGet(t, c)
	<-started

	c.Close() // returns only once the refresh has returned
	if !errors.Is(refreshErr, context.Canceled) {
		t.Errorf("refresh ended with %v, want context.Canceled", refreshErr)
	}
	if _, err := get(c, context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
	if st := c.Stats(); st.Refreshing || !st.Expiry.IsZero() || st.MintFailures != 0 {
		t.Errorf("Stats after Close = %+v", st)
	}
	c.Close()
}

func TestCloseReleasesWaiters(t *testing.T) {
	c := New(blocked, Options{})
	joined := make(chan struct{}, 1)
	ch := getAsync(c, &spyCtx{Context: context.Background(), joined: joined})
	<-joined
	c.Close()
	if r := <-ch; !errors.Is(r.err, ErrClosed) {
		t.Errorf("waiter got %v, want ErrClosed", r.err)
	}
}

// TestConcurrentUse runs Gets, Invalidates and a moving clock together: under
// -race it checks the locking, and it checks that no two fetches overlap and
// that no credential is served inside its safety margin.
func TestConcurrentUse(t *testing.T) {
	const margin = 2 * time.Second
	clock := newClock()
	var active, overlaps int64
	var mu sync.Mutex
	s := minting(clock, time.Minute)
	mint := s.fn
	s.fn = func(ctx context.Context, n int64) (minted, error) {
		mu.Lock()
		active++
		if active > 1 {
			overlaps++
		}
		mu.Unlock()
		defer func() { mu.Lock(); active--; mu.Unlock() }()
		if n%7 == 0 {
			return minted{}, errBoom
		}
		return mint(ctx, n)
	}
	c := New(s.fetch, Options{Now: clock.Now, SafetyMargin: margin, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	defer c.Close()

	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 500 {
				before := clock.Now()
				cred, err := get(c, context.Background())
				if err != nil {
					continue
				}
				if left := cred.expiry.Sub(before); left <= margin {
					t.Errorf("served a credential with %s left, margin %s", left, margin)
					return
				}
				if (g+i)%50 == 0 {
					c.Invalidate(cred.value)
				}
			}
		})
	}
	wg.Go(func() {
		for range 2000 {
			clock.Advance(50 * time.Millisecond)
		}
	})
	wg.Wait()
	if overlaps != 0 {
		t.Errorf("%d fetches overlapped", overlaps)
	}
}
