package main

import (
	"fmt"
	"time"
)

// round shortens d for people: microseconds below a millisecond, a tenth of
// a millisecond below a second, hundredths of a second above.
func round(d time.Duration) time.Duration {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond)
	case d < time.Second:
		return d.Round(100 * time.Microsecond)
	default:
		return d.Round(10 * time.Millisecond)
	}
}

// describeExpiry says when a credential expires, relative to now.
func describeExpiry(expiry, now time.Time) string {
	if expiry.IsZero() {
		return "credential without expiry (a native password)"
	}
	return fmt.Sprintf("credential expires %s (in %s)", expiry.Local().Format(time.RFC3339), expiry.Sub(now).Round(time.Second))
}
