package lakebase_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// Fault 1, the login: the workspace's token endpoint (/oidc/v1/token)
// answers 429 with Retry-After: 60, saying "rate limit exceeded" (words the
// SDK's HTTP client takes for a transient failure). Its login is the SDK's,
// whose token source retries a 429 as Retry-After says for up to a minute,
// on a context of its own when it logs in of its own accord; the connect
// fails within
// its budget instead (connect_timeout, or the context's deadline), at once
// in fact, naming the throttling and holding no secret (the fault env's
// sweep checks the errors and the log), and the Connects during the
// Retry-After fail at once too, without asking the workspace again. Both
// the first login (before the lookup) and a token refresh during a mint,
// where the SDK logs in of its own accord, are bounded.
func TestFaultThrottledLogin(t *testing.T) {
	const (
		retryAfter = time.Minute
		budget     = 2 * time.Second
	)
	for _, tc := range []struct {
		name string
		// connectTimeout: the budget is connect_timeout and the Pings'
		// contexts have no deadline; else the contexts' deadline is it.
		connectTimeout bool
		// refresh: the login is a token refresh during a mint, after a
		// first connect; else it is the first login, before the lookup.
		refresh bool
		step    string
	}{
		{name: "first login, connect_timeout", connectTimeout: true, step: "resolve"},
		{name: "first login, context deadline", step: "resolve"},
		{name: "refresh in a mint, connect_timeout", connectTimeout: true, refresh: true, step: "mint"},
		{name: "refresh in a mint, context deadline", refresh: true, step: "mint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newFaultEnv(t)
			ws := e.kit.Workspace
			var extra []string
			if tc.connectTimeout {
				extra = append(extra, "connect_timeout=2")
			}
			ping := func(db *sql.DB) error {
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if !tc.connectTimeout {
					ctx, cancel = context.WithTimeout(ctx, budget)
				}
				defer cancel()
				return e.record(db.PingContext(ctx))
			}
			db, _ := e.open(e.dsn(extra...))
			db.SetMaxIdleConns(0) // every Ping connects
			if tc.refresh {
				// Workspace tokens and credentials that expire soon, so that
				// the next connect mints, and the mint refreshes the token.
				lifetime := scaled(3 * time.Second)
				ws.SetOAuthTokenLifetime(time.Second)
				ws.SetCredentialLifetime(lifetime)
				t.Cleanup(func() { ws.SetOAuthTokenLifetime(0) })
				if err := e.ping(db, 10*time.Second); err != nil {
					t.Fatalf("the first connect: %v", err)
				}
			}
			before := ws.Requests("token")
			ws.Fail("token", lakebasetest.Fault{Status: http.StatusTooManyRequests, Message: "rate limit exceeded", RetryAfter: retryAfter})
			if tc.refresh {
				// The credential expires; the early refresh before it may
				// already meet the 429, or the next Ping's mint will.
				time.Sleep(scaled(3 * time.Second))
			}
			for i := range 3 {
				start := time.Now()
				err := ping(db)
				// A generous ceiling: the failure comes at once, but a loaded
				// machine may be slow to deliver it.
				if took := time.Since(start); took > budget+scaled(2*time.Second) {
					t.Errorf("Ping %d failed after %s; want within the budget of %s", i, took, budget)
				}
				if err == nil {
					t.Fatalf("Ping %d succeeded while the token endpoint throttles", i)
				}
				wantConnectError(t, err, tc.step, "429", "logging in to "+e.ws.URL())
				if !errors.Is(err, lakebase.ErrThrottled) {
					t.Errorf("Ping %d = %v; want errors.Is ErrThrottled", i, err)
				}
				if i == 0 {
					t.Logf("error: %v", err)
				}
			}
			if n := ws.Requests("token") - before; n != 1 {
				t.Errorf("%d token requests while throttled, want 1: no retry before the Retry-After", n)
			}
			if tc.refresh {
				// The cache logs a failed fetch once its waiters have it.
				waitFor(t, 5*time.Second, "the log tells of the throttled mint", func() bool {
					return strings.Contains(e.logs.String(), "429")
				})
			}
			e.waitNoLeaksAfterClose()
		})
	}
}
