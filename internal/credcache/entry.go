package credcache

import (
	"fmt"
	"sync/atomic"
	"time"
)

// entry is a cached credential with the instants that govern its use. It is
// never modified once published, so readers need no lock, but for the
// confirmed flag, which is atomic.
type entry struct {
	cred minted // Expiry without a monotonic reading
	// refreshAt: from here on, a Get starts a background fetch.
	refreshAt time.Time
	// usableUntil: from here on, the credential is not handed out.
	usableUntil time.Time
	// confirmed: a login succeeded with the credential (see Confirm).
	confirmed atomic.Bool
}

// newEntry checks a credential fetched at obtained and computes its instants.
// cred.expiry must not be zero.
func newEntry(cred minted, obtained time.Time, o Options) (*entry, error) {
	cred.expiry = cred.expiry.Round(0)
	lifetime := cred.expiry.Sub(obtained)
	if lifetime <= 0 {
		return nil, fmt.Errorf("%w: it expired at %s, %s before it was fetched",
			ErrExpired, cred.expiry.UTC().Format(time.RFC3339), -lifetime)
	}
	margin := o.SafetyMargin
	if margin == 0 {
		margin = min(maxSafetyMargin, lifetime/10)
	}
	if lifetime <= margin {
		return nil, fmt.Errorf("%w: valid for %s after it was fetched, safety margin %s",
			ErrExpired, lifetime, margin)
	}
	window := o.RefreshWindow
	if window == 0 {
		window = min(maxRefreshWindow, lifetime/4)
	}
	e := &entry{cred: cred, usableUntil: cred.expiry.Add(-margin)}
	e.refreshAt = cred.expiry.Add(-window)
	if e.refreshAt.After(e.usableUntil) {
		e.refreshAt = e.usableUntil
	}
	return e, nil
}
