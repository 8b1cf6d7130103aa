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
	route := lakebasetest.RouteDatabaseCredential

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
	t.Run("500 burst", func(t *testing.T) {
		e := newFaultEnv(t)
		ws := e.kit.Workspace
		ws.Fail(lakebasetest.RouteDatabaseCredential, lakebasetest.Fault{Status: http.StatusInternalServerError, Times: 2})
		before := ws.Requests(lakebasetest.RouteDatabaseCredential)
		db, _ := e.open(e.dsn())
		errs, start := e.pingUntilUp(db, 100*time.Millisecond)
		if len(errs) == 0 || time.Since(start) > 6*time.Second {
			t.Fatalf("%d errors, recovered after %s; want errors, then recovery within the backoff (at most 3s)", len(errs), since(start))
		}
		for _, err := range errs {
			var ce *lakebase.ConnectError
			if !errors.As(err, &ce) || ce.Step != "mint" || !strings.Contains(err.Error(), "Internal Server Error") {
				t.Errorf("Ping = %v; want a mint error saying Internal Server Error", err)
			}
		}
		if n := ws.Requests(lakebasetest.RouteDatabaseCredential) - before; n != 3 {
			t.Errorf("%d mint requests for %d failed Pings, want 3: backoff, not one per Connect", n, len(errs))
		}
		t.Logf("%d errors, such as %q; recovered after %s", len(errs), errs[len(errs)-1], since(start))
		e.waitNoLeaksAfterClose()
	})

	t.Run("503 burst", func(t *testing.T) {
		e := newFaultEnv(t)
		ws := e.kit.Workspace
		ws.Fail(lakebasetest.RouteDatabaseCredential, lakebasetest.Fault{Status: http.StatusServiceUnavailable, Times: 2})
		before := ws.Requests(lakebasetest.RouteDatabaseCredential)
		db, _ := e.open(e.dsn())
		start := time.Now()
		// The SDK retries a 503 itself, within the mint.
		if err := e.ping(db, 15*time.Second); err != nil {
			t.Fatalf("Ping through a 503 burst: %v", err)
		}
		if n := ws.Requests(lakebasetest.RouteDatabaseCredential) - before; n != 3 {
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
