package credcache

import (
	"log/slog"
	"time"

	"github.com/lakebase-go/lakebase/internal/backoff"
)

// Confirm records that a login succeeded with the credential whose value is
// value, if it is still the cached one. A confirmed credential that the
// server later refuses was revoked: Invalidate drops it at once.
func (c *Cache) Confirm(value string) {
	e := c.cur.Load()
	if e == nil || e.confirmed.Load() || e.cred.value != value {
		return
	}
	e.confirmed.Store(true)
	c.mu.Lock()
	c.refusals, c.keepRefusedUntil = 0, time.Time{} // the identity is let in
	c.mu.Unlock()
}

// Invalidate tells the cache that the server refused a login with the
// credential whose value is value, and reports whether the cache has stopped
// handing it out, so that a new login with the next credential makes sense.
//
// A confirmed credential (one that has logged in) is dropped: it was revoked.
// One that never logged in may have been refused for the identity itself (a
// role missing on the server), which a new credential does not mend: it is
// dropped too, but then the next unconfirmed one only after a backoff
// (doubling from MinBackoff to MaxBackoff), and kept meanwhile, so that a
// refused identity does not cost a mint for every login. A value that is no
// longer cached is reported as dropped: another caller replaced it.
func (c *Cache) Invalidate(value string) bool {
	c.mu.Lock()
	e := c.cur.Load()
	if e == nil || e.cred.value != value {
		c.mu.Unlock()
		return true
	}
	if !e.confirmed.Load() {
		now := c.now()
		if now.Before(c.keepRefusedUntil) {
			c.mu.Unlock()
			c.log(slog.LevelDebug, "credcache: refused credential kept; the last one that never logged in was dropped moments ago", slog.Time("expiry", e.cred.expiry))
			return false
		}
		c.refusals++
		c.keepRefusedUntil = now.Add(backoff.Wait(c.refusals, c.opts.MinBackoff, c.opts.MaxBackoff))
	}
	c.cur.Store(nil)
	c.stats.Invalidations++
	c.mu.Unlock()
	c.log(slog.LevelInfo, "credcache: credential invalidated", slog.Time("expiry", e.cred.expiry))
	return true
}
