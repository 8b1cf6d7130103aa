package credcache

import (
	"context"
	"testing"
	"time"
)

// Retry ends the backoff of a failure, so that the next Get fetches, but not
// the wait a throttled failure asked for; a Retry with no failure changes
// nothing.
func TestRetry(t *testing.T) {
	t.Run("failure", func(t *testing.T) {
		clock := newClock()
		s := failingAt(clock, time.Hour, &mintErr{status: 401}, 1)
		c := New(s.fetch, Options{Now: clock.Now, MinBackoff: time.Minute})
		defer c.Close()
		if _, err := get(c, context.Background()); err == nil {
			t.Fatal("the first fetch did not fail")
		}
		c.Retry()
		if got := mustGet(t, c); got.value != secret(2) {
			t.Errorf("Get after Retry = %q, want %q", got.value, secret(2))
		}
		c.Retry() // no failure: nothing to end
		if got := mustGet(t, c); got.value != secret(2) || s.calls.Load() != 2 {
			t.Errorf("Get after a Retry without failure = %q after %d fetches, want %q after 2", got.value, s.calls.Load(), secret(2))
		}
	})
	t.Run("throttled", func(t *testing.T) {
		c := New(throttledFirst(time.Hour).fetch, Options{})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, err := get(c, ctx); err == nil {
			t.Fatal("the throttled fetch did not fail")
		}
		c.Retry()
		if _, err := get(c, ctx); err == nil {
			t.Error("Retry ended the wait that a throttled fetch asked for")
		}
	})
}
