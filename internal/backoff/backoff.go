// Package backoff spaces the attempts after a failure, for the credential
// cache's mints and the connector's workspace logins and lookups alike: the
// same doubling, jittered wait, and the same wording for the failure handed
// to a caller turned away before the next attempt.
package backoff

import (
	"context"
	"math/rand/v2"
	"strings"
	"time"
)

// Wait is the wait after the n-th consecutive failure (n >= 1): it doubles
// from lo up to hi (hi >= lo), then a random part of up to half is taken off,
// so that many processes failing together spread out.
func Wait(n int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d - rand.N(d/2+1)
}

// Error is the last failure, handed to a caller during the backoff that
// follows it, without a new attempt. Its text adds when the next attempt is;
// errors.Is and errors.As see Err.
type Error struct {
	Err  error
	Next time.Duration // until the next attempt
}

// Error is Err's text (without the line break that some workspace answers end
// with) and when the next attempt is.
func (e *Error) Error() string {
	return strings.TrimRight(e.Err.Error(), "\n ") + " (next attempt in " + e.Next.Round(time.Millisecond).String() + ")"
}

// Unwrap returns the failure.
func (e *Error) Unwrap() error { return e.Err }

// Sleep waits for d between two attempts and reports true, or reports false
// as soon as ctx ends or stop closes (a nil stop never does).
func Sleep(ctx context.Context, d time.Duration, stop <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	}
}
