package credcache

import (
	"log/slog"
	"time"
)

// Options tunes a Cache. The zero value is ready to use.
type Options struct {
	// SafetyMargin: a credential is handed out only while it stays valid for
	// at least this long, leaving time to dial and log in. Zero means
	// min(30s, lifetime/10) for each credential, where lifetime is its expiry
	// minus the time it was fetched.
	SafetyMargin time.Duration
	// RefreshWindow: a background fetch starts once a credential is this close
	// to expiry. Zero means min(5m, lifetime/4). A window no wider than the
	// margin means no early refresh: the credential is used up, then callers
	// wait for the next one.
	RefreshWindow time.Duration
	// MinBackoff and MaxBackoff space the fetches after a failure: the wait
	// doubles from MinBackoff up to MaxBackoff, and each wait is jittered
	// between half and all of its length. While a credential is still handed
	// out, the next fetch comes no later than when it stops being. Defaults
	// 1s and 1m.
	MinBackoff, MaxBackoff time.Duration
	// FetchTimeout bounds one fetch, which runs detached from the callers'
	// contexts. Default 1m.
	FetchTimeout time.Duration
	// Now reads the wall clock; default time.Now. Its monotonic reading is
	// ignored, so expiry follows the wall clock across a sleeping machine.
	Now func() time.Time
	// Logger receives fetches, failures and invalidations (never a
	// credential's value). Nil means silent.
	Logger *slog.Logger
	// Observer, if set, is told of every fetch (see Observer); nil costs
	// nothing.
	Observer Observer
}

// Defaults for the zero Options.
const (
	maxSafetyMargin     = 30 * time.Second
	maxRefreshWindow    = 5 * time.Minute
	defaultMinBackoff   = time.Second
	defaultMaxBackoff   = time.Minute
	defaultFetchTimeout = time.Minute
)

// withDefaults fills what o leaves at zero (or sets below zero). The margin
// and the window stay zero: they depend on each credential's lifetime.
func (o Options) withDefaults() Options {
	o.SafetyMargin = max(o.SafetyMargin, 0)
	o.RefreshWindow = max(o.RefreshWindow, 0)
	if o.MinBackoff <= 0 {
		o.MinBackoff = defaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = defaultMaxBackoff
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = defaultFetchTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
