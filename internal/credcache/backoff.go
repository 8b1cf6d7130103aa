package credcache

import (
	"errors"
	"time"
)

// RetryAfter is implemented by fetch errors that say when to try again, as
// a mint throttled with 429 and Retry-After does. After such a failure the
// next fetch waits at least that long (zero: the usual backoff), and callers
// without a usable credential wait for it when their deadline allows,
// instead of getting the failure at once.
type RetryAfter interface {
	RetryAfter() time.Duration
}

// retryAfter finds a RetryAfter in err's chain: its wait, and whether there
// is one.
func retryAfter(err error) (time.Duration, bool) {
	var ra RetryAfter
	if err == nil || !errors.As(err, &ra) {
		return 0, false
	}
	return max(ra.RetryAfter(), 0), true
}
