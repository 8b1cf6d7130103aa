package controlplane

import (
	"fmt"
	"time"
)

// ParseExpiry parses a credential's expiry as the workspace writes it
// (expiration_time, expire_time): RFC 3339, with or without fractional
// seconds, in any offset. The result is in UTC, between the years 1 and
// 9999 so that it formats back to RFC 3339.
func ParseExpiry(s string) (time.Time, error) {
	// RFC3339Nano's layout also accepts a time without fractional seconds.
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("expiry %q is not an RFC 3339 time", truncate(s, 64))
	}
	t = t.UTC()
	if y := t.Year(); y < 1 || y > 9999 {
		return time.Time{}, fmt.Errorf("expiry %q is out of range", truncate(s, 64))
	}
	return t, nil
}

// truncate shortens s to at most n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
