package credcache

import (
	"context"
	"time"
)

// Observer is told of each fetch, for metrics and traces. Its methods run on
// the fetch's goroutine, outside the cache's lock, and should return quickly.
// A cache hit never calls it.
type Observer interface {
	// FetchStarted is called as a fetch begins, with the context the fetch
	// would run under (carrying the values of the caller that started it),
	// and whether it is a background refresh, which no caller waits for. The
	// fetch runs under the context it returns.
	FetchStarted(ctx context.Context, refresh bool) context.Context
	// FetchEnded is called with the fetch's outcome, as handed to its
	// waiters: the credential's expiry (never its value), or the error
	// (ErrClosed when the cache closed meanwhile), and how long the fetch
	// took.
	FetchEnded(ctx context.Context, refresh bool, expiry time.Time, err error, took time.Duration)
}
