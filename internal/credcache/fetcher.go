package credcache

import (
	"context"
	"time"
)

// Fetcher mints one credential, usually with a network call: the secret
// presented as the Postgres password, and its expiry, when the server stops
// accepting it for new logins. A zero expiry means unknown: such a credential
// is handed to the callers waiting for it and never cached. A Fetcher should
// honour ctx; the cache never calls it twice at once.
type Fetcher func(ctx context.Context) (value string, expiry time.Time, err error)

// minted is one fetched credential. The cache never prints or logs one: its
// logs and its Observer see the expiry alone.
type minted struct {
	value  string
	expiry time.Time
}
