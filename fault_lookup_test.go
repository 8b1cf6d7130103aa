package lakebase_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// Fault 11: workspace logins and lookups that fail are backed off: the
// Connects that follow fail at once with the same error, saying when the next
// attempt is, instead of each asking the workspace again.
func TestFaultLookupBackoff(t *testing.T) {
	const pings = 20
	for _, tc := range []struct {
		name   string
		route  lakebasetest.Route // the request that fails
		kind   error
		words  string
		target func(e *faultEnv) string
		auth   func(e *faultEnv) string
	}{
		{
			name: "wrong client secret", route: lakebasetest.RouteToken, kind: lakebase.ErrUnauthenticated, words: "not authenticated",
			target: func(e *faultEnv) string { return "instance=" + e.instance },
			auth: func(e *faultEnv) string {
				sp := e.kit.ServicePrincipal
				sp.Secret = "wrong-secret-" + uniqueName("s")
				e.keepSecret(sp.Secret)
				return m2mAuth(sp)
			},
		},
		{
			name: "unknown instance", route: lakebasetest.RouteInstance, kind: lakebase.ErrNotFound, words: "not found",
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
			// The first backoff is at most a second; then the workspace is
			// asked again, once.
			time.Sleep(time.Second)
			for range 2 {
				if err := e.ping(db, 5*time.Second); !errors.Is(err, tc.kind) {
					t.Fatalf("Ping after the backoff = %v; want %v", err, tc.kind)
				}
			}
			if n := ws.Requests(tc.route) - before; n != 2 {
				t.Errorf("%d requests to %s after the backoff, want 2", n, tc.route)
			}
			e.waitNoLeaksAfterClose()
		})
	}

	t.Run("500 burst on the lookup", func(t *testing.T) {
		e := newFaultEnv(t)
		ws := e.kit.Workspace
		ws.Fail(lakebasetest.RouteInstance, lakebasetest.Fault{Status: http.StatusInternalServerError, Times: 2})
		before := ws.Requests(lakebasetest.RouteInstance)
		db, _ := e.open(e.dsn())
		errs, start := e.pingUntilUp(db, 50*time.Millisecond)
		// Two failed lookups, each followed by a backoff: at least 0.5 s,
		// then 1 s, at most 1 s, then 2 s.
		took := time.Since(start)
		if len(errs) == 0 || took < 1500*time.Millisecond || took > 6*time.Second {
			t.Fatalf("%d errors, recovered after %s; want errors, then recovery once two backoffs passed (1.5 s to 3 s)", len(errs), since(start))
		}
		for _, err := range errs {
			wantConnectError(t, err, "resolve", e.instance, "Internal Server Error")
		}
		if n := ws.Requests(lakebasetest.RouteInstance) - before; n != 3 {
			t.Errorf("%d lookups for %d failed Pings, want 3: backoff, not one per Connect", n, len(errs))
		}
		t.Logf("%d errors, such as %q; recovered after %s", len(errs), errs[len(errs)-1], since(start))
		e.waitNoLeaksAfterClose()
	})
}
