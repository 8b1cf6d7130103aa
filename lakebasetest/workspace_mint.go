package lakebasetest

import (
	"net/http"
	"time"
)

// SetCredentialLifetime sets how long the database credentials minted from
// now on live; d <= 0 restores the default of one hour. Tests may use
// seconds. An Autoscaling request's ttl shortens a credential further, never
// lengthens it.
func (w *Workspace) SetCredentialLifetime(d time.Duration) {
	if d <= 0 {
		d = defaultCredentialLifetime
	}
	w.mu.Lock()
	w.credLifetime = d
	w.mu.Unlock()
}

// SetMintLatency makes both credential routes take d before answering, as a
// slow control plane would (the default is 0).
func (w *Workspace) SetMintLatency(d time.Duration) {
	w.mu.Lock()
	w.mintLatency = max(d, 0)
	w.mu.Unlock()
}

// SetExpiryFormat makes both credential routes write a credential's expiry
// (expiration_time, expire_time) as format returns it, so that tests can
// meet the other forms of RFC 3339, or an unreadable expiry; an empty
// string leaves the field out. nil restores the service's own form.
func (w *Workspace) SetExpiryFormat(format func(expiry time.Time) string) {
	w.mu.Lock()
	w.expiryFormat = format
	w.mu.Unlock()
}

// writtenExpiry is a credential's expiry as the routes write it, and
// whether the service's own form is wanted (written by the SDK's types).
func (w *Workspace) writtenExpiry(expiry time.Time) (string, bool) {
	w.mu.Lock()
	format := w.expiryFormat
	w.mu.Unlock()
	if format == nil {
		return expiry.UTC().Format(time.RFC3339Nano), true
	}
	return format(expiry), false
}

// Mints is how many database credentials the workspace has minted.
func (w *Workspace) Mints() int {
	return w.countMints(func(wsGrant) bool { return true })
}

// MintsFor is how many database credentials identity (an e-mail or an
// application id) has been minted.
func (w *Workspace) MintsFor(identity string) int {
	return w.countMints(func(g wsGrant) bool { return g.identity == identity })
}

// MintsForInstance is how many credentials have been minted for instance
// name, whoever asked.
func (w *Workspace) MintsForInstance(name string) int {
	return w.countMints(func(g wsGrant) bool { return g.target == instanceTarget(name) })
}

// MintsForEndpoint is how many credentials have been minted for the
// endpoint at path, whoever asked.
func (w *Workspace) MintsForEndpoint(path string) int {
	return w.countMints(func(g wsGrant) bool { return g.target == endpointTarget(path) })
}

func (w *Workspace) countMints(match func(wsGrant) bool) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for g, c := range w.mints {
		if match(g) {
			n += c
		}
	}
	return n
}

// mint issues a credential for identity and target that lives for the
// configured lifetime or ttl, whichever is shorter (ttl 0: no request),
// scoped to the tables claims name. It answers 403 when identity is denied
// target or a claimed table (400 for a malformed claim), and 503 when the request or
// the workspace ends during the mint latency.
func (w *Workspace) mint(rw http.ResponseWriter, r *http.Request, identity, target string, ttl time.Duration, claims []claimedTables) (issuedCredential, bool) {
	g := wsGrant{identity, target}
	w.mu.Lock()
	denied, latency, lifetime := w.denied[g], w.mintLatency, w.credLifetime
	w.mu.Unlock()
	if denied {
		wsWriteError(rw, http.StatusForbidden, "PERMISSION_DENIED", "User does not have permission to generate a credential for this database")
		return issuedCredential{}, false
	}
	tables, ok := w.checkClaims(rw, identity, claims)
	if !ok {
		return issuedCredential{}, false
	}
	if !w.wait(r, latency) {
		wsWriteError(rw, http.StatusServiceUnavailable, "TEMPORARILY_UNAVAILABLE", "request abandoned")
		return issuedCredential{}, false
	}
	if ttl > 0 && ttl < lifetime {
		lifetime = ttl
	}
	c := w.store.issue(identity, target, lifetime, tables)
	w.mu.Lock()
	w.mints[g]++
	w.mu.Unlock()
	return c, true
}
