package lakebase

import (
	"time"
)

// Stats describes a Connector's credential cache.
type Stats struct {
	// CredentialsMinted counts credentials obtained (minted, or taken from
	// the TokenSource).
	CredentialsMinted uint64
	// MintFailures counts failed attempts to obtain one.
	MintFailures uint64
	// CredentialWaits counts connections (and Credential calls) that found
	// no usable credential and waited for one to be obtained: the first,
	// and any after the cached credential ran out or was rejected. While
	// early refresh works, rotation adds nothing to it. With a TokenSource
	// whose tokens carry no expiry, every connection waits for it.
	CredentialWaits uint64
	// LoginRetries counts logins retried with a new credential after the
	// server refused a cached one.
	LoginRetries uint64
	// CredentialExpiry is when the current credential expires; zero when
	// there is none (or the mode uses a native password).
	CredentialExpiry time.Time
	// Refreshing is true while a credential is being obtained.
	Refreshing bool
}

// Stats returns the connector's counters. It is cheap and safe to call at any
// time, for metrics or health checks.
func (c *Connector) Stats() Stats {
	s := Stats{LoginRetries: c.loginRetries.Load()}
	if cc, ok := c.creds.(cachedCredentials); ok {
		cs := cc.cache.Stats()
		s.CredentialsMinted, s.MintFailures, s.CredentialWaits = cs.Minted, cs.MintFailures, cs.Waits
		s.CredentialExpiry, s.Refreshing = cs.Expiry, cs.Refreshing
	}
	return s
}
