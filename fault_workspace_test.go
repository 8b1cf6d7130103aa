package lakebase_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// Fault 1: the workspace throttles mints with 429 and Retry-After.
func TestFaultThrottledMint(t *testing.T) {
	e := newFaultEnv(t)
	ws := e.kit.Workspace
	route := "database-credential"

	t.Run("waits as told, then connects", func(t *testing.T) {
		const retryAfter = time.Second
		ws.Fail(route, lakebasetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter, Times: 1})
		before := ws.Requests(route)
		db, _ := e.open(e.dsn())
		start := time.Now()
		if err := e.ping(db, 20*time.Second); err != nil {
			t.Fatalf("Ping after a throttled mint: %v", err)
		}
		took := time.Since(start)
		if took < retryAfter || took > retryAfter+3*time.Second {
			t.Errorf("Ping took %s; want a little over the Retry-After of %s", took, retryAfter)
		}
		if n := ws.Requests(route) - before; n != 2 {
			t.Errorf("%d mint requests, want 2: the throttled one and one after Retry-After", n)
		}
	})

	t.Run("a shorter deadline fails fast", func(t *testing.T) {
		const retryAfter = 2 * time.Second
		ws.Fail(route, lakebasetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter, Times: 1})
		before := ws.Requests(route)
		db, _ := e.open(e.dsn())
		throttled := time.Now()
		for range 3 { // the first mints and is throttled; the others meet the wait
			start := time.Now()
			err := e.ping(db, time.Second)
			if took := time.Since(start); took > 700*time.Millisecond {
				t.Errorf("Ping with a 1s deadline took %s; want it to fail at once", took)
			}

			var ce *lakebase.ConnectError
			if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, lakebase.ErrThrottled) ||
				!errors.As(err, &ce) || ce.Step != "mint" {
				t.Fatalf("Ping = %v; want a mint error with ErrThrottled and context.DeadlineExceeded", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "429") || !strings.Contains(msg, e.instance) {
				t.Errorf("error %q should say 429 and name the instance", msg)
			}
		}
		if n := ws.Requests(route) - before; n != 1 {
			t.Errorf("%d mint requests while throttled, want 1", n)
		}
		// A Connect that can wait connects once Retry-After has passed.
		if err := e.ping(db, 10*time.Second); err != nil {
			t.Fatalf("Ping with a long deadline: %v", err)
		}
		if took := time.Since(throttled); took < retryAfter {
			t.Errorf("connected %s after the 429, before its Retry-After of %s", took, retryAfter)
		}
		if n := ws.Requests(route) - before; n != 2 {
			t.Errorf("%d mint requests in all, want 2", n)
		}
	})
	e.waitNoLeaksAfterClose()
}

// Fault 2: bursts of 500 and 503 from the workspace, and a workspace that
// cannot be reached at all.
func TestFaultWorkspaceErrors(t *testing.T) {
	t.Run("503 burst", func(t *testing.T) {
		e := newFaultEnv(t)
		ws := e.kit.Workspace
		ws.Fail("database-credential", lakebasetest.Fault{Status: http.StatusServiceUnavailable, Times: 2})
		before := ws.Requests("database-credential")
		db, _ := e.open(e.dsn())
		start := time.Now()
		// The SDK retries a 503 itself, within the mint.
		if err := e.ping(db, 15*time.Second); err != nil {
			t.Fatalf("Ping through a 503 burst: %v", err)
		}
		if n := ws.Requests("database-credential") - before; n != 3 {
			t.Errorf("%d mint requests, want 3", n)
		}
		t.Logf("connected after %s", since(start))
		e.waitNoLeaksAfterClose()
	})

	t.Run("unreachable", func(t *testing.T) {
		e := newFaultEnv(t)
		db, _ := e.open(e.dsn())
		e.ws.Down()
		start := time.Now()
		// A port that refuses connections is not retried until the
		// deadline: the error says so at once, naming the workspace.
		err := e.ping(db, 10*time.Second)
		if !errors.Is(err, lakebase.ErrUnreachable) || time.Since(start) > 5*time.Second {
			t.Fatalf("Ping with the workspace's port closed = %v after %s; want ErrUnreachable at once", err, since(start))
		}
		if !strings.Contains(err.Error(), "cannot reach the workspace "+e.ws.URL()) {
			t.Errorf("%q does not name the workspace", err)
		}
		e.ws.Up(t)
		start = time.Now()
		if errs, _ := e.pingUntilUp(db, 200*time.Millisecond); time.Since(start) >= 15*time.Second {
			t.Fatalf("no Ping succeeded once the workspace answered again: %v", errs)
		}
		t.Logf("recovered %s after the workspace came back", since(start))
		e.waitNoLeaksAfterClose()
	})
}

// Fault 3: the workspace is down while the credential is still valid.
func TestFaultWorkspaceDownWithValidCredential(t *testing.T) {
	e := newFaultEnv(t)
	// Every connection falls inside the refresh window, so each tries to
	// refresh while the workspace is down.
	db, c := e.open(e.dsn(), func(cfg *lakebase.Config) { cfg.RefreshWindow = 2 * time.Hour })
	db.SetMaxIdleConns(0) // a real Connect for every query
	if err := e.ping(db, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	e.ws.Down()
	accepted := e.gateway.Stats().Accepted
	for i := range 20 {
		start := time.Now()
		if err := e.ping(db, 5*time.Second); err != nil {
			t.Fatalf("connection %d with the workspace down: %v", i, err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("connection %d took %s", i, took)
		}
	}
	if n := e.gateway.Stats().Accepted - accepted; n != 20 {
		t.Errorf("the gateway let in %d new connections, want 20", n)
	}
	if n := e.kit.Workspace.MintsForInstance(e.instance); n != 1 {
		t.Errorf("%d mints, want 1", n)
	}
	// The refresh has tried the workspace: it is still trying (the SDK
	// retries a refused connection), or it has failed and waits for its
	// backoff (the SDK gives up at once on some network errors: one run in
	// three or so here).
	if s := c.Stats(); !s.Refreshing && s.MintFailures == 0 {
		t.Errorf("Stats = %+v; want a refresh trying to reach the workspace, or one that failed", s)
	}
	e.waitNoLeaksAfterClose()
}

// Fault 11: workspace logins and lookups that fail are backed off: the
// Connects that follow fail at once with the same error, saying when the next
// attempt is, instead of each asking the workspace again.
func TestFaultLookupBackoff(t *testing.T) {
	const pings = 20
	for _, tc := range []struct {
		name   string
		route  string // the request that fails
		kind   error
		words  string
		target func(e *faultEnv) string
		auth   func(e *faultEnv) string
	}{
		{
			name: "wrong client secret", route: "token", kind: lakebase.ErrUnauthenticated, words: "not authenticated",
			target: func(e *faultEnv) string { return "instance=" + e.instance },
			auth: func(e *faultEnv) string {
				sp := e.kit.ServicePrincipal
				sp.Secret = "wrong-secret-" + uniqueName("s")
				e.keepSecret(sp.Secret)
				return m2mAuth(sp)
			},
		},
		{
			name: "unknown instance", route: "instance", kind: lakebase.ErrNotFound, words: "not found",
			target: func(*faultEnv) string { return "instance=" + uniqueName("no-such-instance") },
			auth:   func(e *faultEnv) string { return m2mAuth(e.kit.ServicePrincipal) },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newFaultEnv(t)
			ws := e.kit.Workspace
			db, _ := e.open(e.dsnWith(tc.target(e), tc.auth(e)))
			before := ws.Requests(tc.route)
			start := time.Now()
			for i := range pings {
				err := e.ping(db, 5*time.Second)
				if err == nil {
					t.Fatalf("Ping %d succeeded", i)
				}
				wantConnectError(t, err, "resolve", tc.words)
				if !errors.Is(err, tc.kind) {
					t.Errorf("Ping %d = %v; want errors.Is %v", i, err, tc.kind)
				}
				if backedOff := strings.Contains(err.Error(), "(next attempt in "); backedOff != (i > 0) {
					t.Errorf("Ping %d = %v; want the next attempt named after the first failure only", i, err)
				}
				if i == pings-1 {
					t.Logf("%d Pings in %s, the last: %v", pings, since(start), err)
				}
			}
			if n := ws.Requests(tc.route) - before; n != 1 {
				t.Errorf("%d requests to %s for %d failed Pings, want 1", n, tc.route, pings)
			}
			// Once the first backoff (at most a second) ends, a Ping asks
			// the workspace again, once; the Pings after it wait out the
			// next backoff.
			waitFor(t, 5*time.Second, "a Ping asks the workspace again after the backoff", func() bool {
				if err := e.ping(db, 5*time.Second); !errors.Is(err, tc.kind) {
					t.Fatalf("Ping after the backoff = %v; want %v", err, tc.kind)
				}
				return ws.Requests(tc.route)-before >= 2
			})
			if err := e.ping(db, 5*time.Second); !errors.Is(err, tc.kind) {
				t.Fatalf("Ping after the backoff = %v; want %v", err, tc.kind)
			}
			if n := ws.Requests(tc.route) - before; n != 2 {
				t.Errorf("%d requests to %s after the backoff, want 2", n, tc.route)
			}
			e.waitNoLeaksAfterClose()
		})
	}
}

// Fault 2 and 11: a burst of 500s from the mint or the lookup fails the
// Connects that meet it, each naming the step and the workspace's error,
// and is backed off (at least 0.5 s, then 1 s; at most 1 s, then 2 s)
// rather than asked again per Connect, until the workspace answers.
func TestFaultWorkspace500Burst(t *testing.T) {
	for _, tt := range []struct {
		name, step string
		route      string
		atLeast    time.Duration // the backoffs the recovery waits out
	}{
		{name: "mint", route: "database-credential", step: "mint"},
		{name: "lookup", route: "instance", step: "resolve", atLeast: 1500 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newFaultEnv(t)
			ws := e.kit.Workspace
			ws.Fail(tt.route, lakebasetest.Fault{Status: http.StatusInternalServerError, Times: 2})
			before := ws.Requests(tt.route)
			db, _ := e.open(e.dsn())
			errs, start := e.pingUntilUp(db, 50*time.Millisecond)
			if took := time.Since(start); len(errs) == 0 || took < tt.atLeast || took > 6*time.Second {
				t.Fatalf("%d errors, recovered after %s; want errors, then recovery once the backoffs passed (%s to 3 s)", len(errs), since(start), tt.atLeast)
			}
			for _, err := range errs {
				wantConnectError(t, err, tt.step, e.instance, "Internal Server Error")
			}
			if n := ws.Requests(tt.route) - before; n != 3 {
				t.Errorf("%d requests to %s for %d failed Pings, want 3: backoff, not one per Connect", n, tt.route, len(errs))
			}
			t.Logf("%d errors, such as %q; recovered after %s", len(errs), errs[len(errs)-1], since(start))
			e.waitNoLeaksAfterClose()
		})
	}
}
