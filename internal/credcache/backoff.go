package credcache

import (
	"math/rand/v2"
	"time"
)

// backoff is the wait after the n-th consecutive failed fetch (n >= 1): it
// doubles from o.MinBackoff up to o.MaxBackoff, then a random part of up to
// half is taken off, so that many processes failing together spread out.
func backoff(n int, o Options) time.Duration {
	d := o.MinBackoff
	for i := 1; i < n && d < o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.MaxBackoff)
	return d - rand.N(d/2+1)
}
