package credcache

import (
	"testing"
	"time"
)

// A refused identity (every credential refused, none ever logging in) costs
// one new credential per backoff, not one per login; a credential that has
// logged in and is then refused (revoked) is dropped at once.
func TestInvalidateRefusedIdentity(t *testing.T) {
	clock := newClock()
	s := minting(clock, time.Hour)
	c := New(s.fetch, Options{Now: clock.Now, MinBackoff: time.Second, MaxBackoff: time.Minute})
	defer c.Close()

	steps := []struct {
		name      string
		advance   time.Duration
		confirm   bool // a login succeeds with the current credential first
		wantDrop  bool
		wantAfter string // what Get returns after Invalidate
	}{
		{"first refusal of a new credential", 0, false, true, secret(2)},
		{"its successor refused at once", 0, false, false, secret(2)},
		{"still within the backoff", 400 * time.Millisecond, false, false, secret(2)},
		{"after the first backoff", 700 * time.Millisecond, false, true, secret(3)},
		{"its successor refused at once", 0, false, false, secret(3)},
		{"a credential that logged in, then refused", 0, true, true, secret(4)},
		{"the counting starts over", 0, false, true, secret(5)},
	}
	mustGet(t, c)
	for _, st := range steps {
		clock.Advance(st.advance)
		cur := mustGet(t, c)
		if st.confirm {
			c.Confirm(cur.value)
		}
		if got := c.Invalidate(cur.value); got != st.wantDrop {
			t.Errorf("%s: Invalidate(%s) = %v, want %v", st.name, cur.value, got, st.wantDrop)
		}
		if got := mustGet(t, c); got.value != st.wantAfter {
			t.Errorf("%s: Get after Invalidate = %s, want %s", st.name, got.value, st.wantAfter)
		}
	}
	if n := s.calls.Load(); n != 5 {
		t.Errorf("%d fetches, want 5", n)
	}
}

// Confirm of a value that is not the cached one changes nothing.
func TestConfirmStaleValue(t *testing.T) {
	clock := newClock()
	c := New(minting(clock, time.Hour).fetch, Options{Now: clock.Now})
	defer c.Close()
	mustGet(t, c)
	c.Invalidate(secret(1)) // unconfirmed: dropped, and the backoff starts
	mustGet(t, c)
	c.Confirm(secret(1))
	if c.Invalidate(secret(2)) {
		t.Error("Invalidate of an unconfirmed credential within the backoff dropped it after a stale Confirm")
	}
}
