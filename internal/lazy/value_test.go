package lazy

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/internal/backoff"
	"github.com/lakebase-go/lakebase/internal/controlplane"
)

// A failed load is handed out until its backoff ends, which doubles with each
// failure in a row; forget and a success start afresh.
func TestLazyBackoff(t *testing.T) {
	life := NewLifetime()
	defer life.End()
	now := time.Now()
	boom := errors.New("boom")
	loads, fail := 0, true
	l := &Value[int]{Life: life, Now: func() time.Time { return now }, Load: func(context.Context) (int, error) {
		loads++
		if fail {
			return 0, boom
		}
		return 7, nil
	}}
	ctx := context.Background()
	// get loads once and fails, then reports the backoff that follows.
	backedOff := func(wantLoads int, lo, hi time.Duration) {
		t.Helper()
		if _, err := l.Get(ctx); err != boom {
			t.Fatalf("get = %v, want the load's own error", err)
		}
		_, err := l.Get(ctx)
		var be *backoff.Error
		if !errors.As(err, &be) || !errors.Is(err, boom) || be.Next < lo || be.Next > hi {
			t.Fatalf("get during the backoff = %v, want boom with the next attempt in %s to %s", err, lo, hi)
		}
		if loads != wantLoads {
			t.Fatalf("%d loads, want %d", loads, wantLoads)
		}
	}
	backedOff(1, 500*time.Millisecond, time.Second)
	now = now.Add(time.Second)
	backedOff(2, time.Second, 2*time.Second)
	now = now.Add(2 * time.Second)
	backedOff(3, 2*time.Second, 4*time.Second)
	l.Forget()
	backedOff(4, 500*time.Millisecond, time.Second)
	now, fail = now.Add(time.Second), false
	for range 2 {
		if v, err := l.Get(ctx); v != 7 || err != nil || loads != 5 {
			t.Fatalf("get = %d, %v after %d loads; want 7 from one more load", v, err, loads)
		}
	}
}

// Failures that others pace, or that no one asks about again, start no
// backoff: the next get loads again.
func TestLazyFailuresNotRemembered(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("instance: %w", controlplane.ErrNotReady),
		&backoff.Error{Err: controlplane.ErrUnauthenticated, Next: time.Second},
		ErrClosed,
	} {
		t.Run(err.Error(), func(t *testing.T) {
			life := NewLifetime()
			defer life.End()
			loads := 0
			l := &Value[int]{Life: life, Load: func(context.Context) (int, error) { loads++; return 0, err }}
			for i := range 3 {
				if _, got := l.Get(context.Background()); got != err || loads != i+1 {
					t.Fatalf("get %d = %v after %d loads; want the load's error from a load of its own", i, got, loads)
				}
			}
		})
	}
}

// waitError is a failure that says when to try again, as a throttled
// workspace login does.
type waitError time.Duration

func (e waitError) Error() string             { return "throttled" }
func (e waitError) RetryAfter() time.Duration { return time.Duration(e) }

// A failure that says when to try again backs off at least that long; a
// shorter wait than the backoff's changes nothing.
func TestLazyBackoffHonoursRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		lo, hi time.Duration
	}{
		{"no wait said", errors.New("boom"), 500 * time.Millisecond, time.Second},
		{"a minute", fmt.Errorf("login: %w", waitError(time.Minute)), time.Minute, time.Minute},
		{"shorter than the backoff", waitError(time.Millisecond), 500 * time.Millisecond, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := backoffAfter(1, tc.err); got < tc.lo || got > tc.hi {
				t.Errorf("backoffAfter(1, %v) = %s, want %s to %s", tc.err, got, tc.lo, tc.hi)
			}
		})
	}
}
