package lakebase_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
	_ "github.com/lib/pq" // the superuser's view of the server
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

// A connect that cannot succeed fails at once with an error that names its
// step, its target and the reason, matches the driver's sentinel error,
// mints nothing and carries no secret. The disabled endpoint cases show
// that a connection cannot enable it, whether named or found by PGHOST in
// a Databricks App (where the mint does the lookup); waiting out the budget
// cannot help there, nor for a stopped instance.
func TestConnectFailsAtOnce(t *testing.T) {
	kit := sharedKit(t)
	disabledEndpoint := func(t *testing.T, state string) string {
		path := addEndpoint(t, kit, lakebasetest.EndpointOptions{State: state})
		if err := kit.Workspace.UpdateEndpoint(path, func(ep *lakebasetest.Endpoint) { ep.Disabled = true }); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tt := range []struct {
		name string
		// failing returns the DSN that fails for sp, the words its error
		// holds besides step's, and secrets of its own.
		failing func(t *testing.T, sp lakebasetest.ServicePrincipal) (dsn string, words []string, secret string)
		step    string
		kind    error
		app     bool // sets the environment of a Databricks App, so not parallel
	}{
		{name: "wrong client secret", step: "resolve", kind: lakebase.ErrUnauthenticated,
			failing: func(t *testing.T, sp lakebasetest.ServicePrincipal) (string, []string, string) {
				wrong := sp
				wrong.Secret = "wrong-secret-" + uniqueName("s")
				return "instance=" + lakebasetest.DefaultInstance + " " + m2mKeys(kit, wrong),
					[]string{strconv.Quote(lakebasetest.DefaultInstance), "not authenticated"}, wrong.Secret
			}},
		{name: "unknown instance", step: "resolve", kind: lakebase.ErrNotFound,
			failing: func(t *testing.T, sp lakebasetest.ServicePrincipal) (string, []string, string) {
				name := uniqueName("no-such-instance")
				return "instance=" + name + " " + m2mKeys(kit, sp), []string{strconv.Quote(name), "not found"}, ""
			}},
		{name: "stopped instance", step: "resolve", kind: lakebase.ErrStopped,
			failing: func(t *testing.T, sp lakebasetest.ServicePrincipal) (string, []string, string) {
				name := addInstance(t, kit, lakebasetest.InstanceOptions{State: "STOPPED"})
				return "instance=" + name + " " + m2mKeys(kit, sp), []string{strconv.Quote(name), "STOPPED"}, ""
			}},
		{name: "permission denied", step: "mint", kind: lakebase.ErrPermissionDenied,
			failing: func(t *testing.T, sp lakebasetest.ServicePrincipal) (string, []string, string) {
				name := addInstance(t, kit, lakebasetest.InstanceOptions{})
				kit.Workspace.DenyInstance(name, sp.ApplicationID)
				return "instance=" + name + " " + m2mKeys(kit, sp), []string{strconv.Quote(name), sp.ApplicationID, "permission denied"}, ""
			}},
		{name: "disabled idle endpoint", step: "resolve", kind: lakebase.ErrStopped,
			failing: func(t *testing.T, sp lakebasetest.ServicePrincipal) (string, []string, string) {
				path := disabledEndpoint(t, "IDLE")
				return "endpoint=" + path + " " + m2mKeys(kit, sp), []string{strconv.Quote(path), "disabled", "enable it in the workspace"}, ""
			}},
		{name: "disabled active endpoint", step: "resolve", kind: lakebase.ErrStopped,
			failing: func(t *testing.T, sp lakebasetest.ServicePrincipal) (string, []string, string) {
				path := disabledEndpoint(t, "ACTIVE")
				return "endpoint=" + path + " " + m2mKeys(kit, sp), []string{strconv.Quote(path), "disabled", "enable it in the workspace"}, ""
			}},
		{name: "disabled endpoint found by PGHOST", step: "mint", kind: lakebase.ErrStopped, app: true,
			failing: func(t *testing.T, sp lakebasetest.ServicePrincipal) (string, []string, string) {
				path := disabledEndpoint(t, "IDLE")
				appEnvironment(t, kit, sp, endpointHostsOf(t, kit, path).Host)
				return "", []string{strconv.Quote(path), "disabled", "enable it in the workspace"}, ""
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.app {
				t.Parallel()
			}
			sp := newServicePrincipal(t, kit)
			dsn, words, secret := tt.failing(t, sp)
			logs, took, err := pingFails(t, dsn)
			wantConnectError(t, err, tt.step, words...)
			if !errors.Is(err, tt.kind) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.kind)
			}
			if took > scaled(5*time.Second) {
				t.Errorf("the error took %s; want at once, not after waiting", took)
			}
			// A cold connector mints beside its first lookup: at most that
			// one credential (TestColdStartMintsOnce shows no more follow).
			if n := kit.Workspace.MintsFor(sp.ApplicationID); n > 1 {
				t.Errorf("%d credentials minted, want at most the 1 minted beside the lookup", n)
			}
			kitSecrets(kit, sp.Secret, secret).check(t, logs, err)
		})
	}
}

// The credential route answering 503 twice is retried by the SDK; the third
// attempt mints, and the connection opens.
func TestFailureWorkspace503ThenRecovery(t *testing.T) {
	t.Parallel()
	kit, conn, db, logs := ownKitM2M(t, lakebasetest.Options{}, func(kit *lakebasetest.Kit) {
		kit.Workspace.Fail("database-credential", lakebasetest.Fault{Status: 503, Times: 2})
	})
	if got := mustCurrentUser(t, db); got != kit.ServicePrincipal.ApplicationID {
		t.Errorf("current_user = %q", got)
	}
	if n := kit.Workspace.Requests("database-credential"); n != 3 {
		t.Errorf("%d credential requests, want 3 (two refused, one served)", n)
	}
	if n := kit.Workspace.Mints(); n != 1 {
		t.Errorf("%d credentials minted, want 1", n)
	}
	s := kitSecrets(kit)
	s.addCredential(t, conn)
	s.check(t, logs)
}

// everyRoute lists the fake workspace's routes.
var everyRoute = []string{
	"host-metadata", "oidc-discovery", "token",
	"authorize", "me", "database-credential",
	"instance", "instances", "postgres-credential",
	"projects", "project", "branches",
	"branch", "endpoints", "endpoint",
}

// While the workspace is down, new connections still open with the cached
// credential, without asking the workspace.
func TestFailureWorkspaceDownWhileCredentialValid(t *testing.T) {
	t.Parallel()
	kit, conn, db, logs := ownKitM2M(t, lakebasetest.Options{}, nil)
	db.SetMaxIdleConns(0)
	mustCurrentUser(t, db)

	for _, route := range everyRoute {
		kit.Workspace.Fail(route, lakebasetest.Fault{Status: 503})
	}
	before := make(map[string]int)
	for _, route := range everyRoute {
		before[route] = kit.Workspace.Requests(route)
	}
	accepted := kit.InstanceGateway().Stats().Accepted
	const connections = 5
	for i := range connections {
		ctx := contextFor(t, 5*time.Second)
		if _, err := currentUser(ctx, db); err != nil {
			t.Fatalf("connection %d while the workspace is down: %v", i, err)
		}
	}
	if n := kit.InstanceGateway().Stats().Accepted - accepted; n != connections {
		t.Errorf("%d logins while the workspace was down, want %d new connections", n, connections)
	}
	for _, route := range everyRoute {
		if n := kit.Workspace.Requests(route) - before[route]; n != 0 {
			t.Errorf("%d requests to %s while a credential was cached, want 0", n, route)
		}
	}
	kit.Workspace.ClearFaults()
	s := kitSecrets(kit)
	s.addCredential(t, conn)
	s.check(t, logs)
}

// A refresh that fails keeps the current credential in service while it is
// valid, and is retried with backoff, not once per connection; once the
// workspace is back, the next refresh lands.
//
// The credential lasts 20 s, and each connection may take 8 s: the
// connections while refreshes fail all start 10 s or more before its end,
// so that a loaded machine that makes one slow cannot make it log in with
// an expired credential, and a failure says that a connection waited.
func TestFailureRefreshFailsWhileCredentialValid(t *testing.T) {
	t.Parallel()
	lifetime := scaled(20 * time.Second)
	// The refresh window opens 2 s into the credential's life; it is handed
	// out until 0.8 s (the default margin) before its end.
	kit, conn, db, logs := ownKitM2M(t, lakebasetest.Options{CredentialLifetime: lifetime}, nil,
		func(c *lakebase.Config) { c.RefreshWindow = scaled(18 * time.Second) })
	db.SetMaxIdleConns(0)
	mustCurrentUser(t, db)
	s := kitSecrets(kit)
	s.addCredential(t, conn)
	expiry := conn.Stats().CredentialExpiry
	connect := func() (string, error) { return currentUser(contextFor(t, scaled(8*time.Second)), db) }

	const down = "the credential service is down for maintenance"
	kit.Workspace.Fail("database-credential", lakebasetest.Fault{Status: 500, Message: down})
	requests := kit.Workspace.Requests("database-credential")
	time.Sleep(time.Until(expiry.Add(-scaled(17500 * time.Millisecond)))) // the refresh window is open
	span := time.Until(expiry.Add(-scaled(10 * time.Second)))
	connections := 0
	for time.Until(expiry) > scaled(10*time.Second) {
		if _, err := connect(); err != nil {
			t.Fatalf("connection %d while refreshes fail: %v", connections, err)
		}
		connections++
	}
	attempts := kit.Workspace.Requests("database-credential") - requests
	st := conn.Stats()
	t.Logf("%d connections while refreshes failed, %d refresh attempts", connections, attempts)
	most := mostFetches(span)
	if attempts < 1 || attempts > most {
		t.Errorf("%d refresh attempts in %s of failures, want 1 to %d: retried with backoff", attempts, span, most)
	}
	if connections <= most {
		t.Errorf("only %d connections in %s, no more than the %d refresh attempts backoff allows: too few to tell it from a retry per connection", connections, span, most)
	}
	if st.MintFailures != uint64(attempts) || !st.CredentialExpiry.Equal(expiry) {
		t.Errorf("Stats = %+v; want %d failures and the first credential still current", st, attempts)
	}
	if !strings.Contains(logs.String(), "fetch failed") || !strings.Contains(logs.String(), down) {
		t.Errorf("the failed refresh was not logged:\n%s", logs)
	}

	// Back before the credential runs out: connections go on without a
	// failure, through its end, and a new credential arrives (one that
	// lasts, so that no third mint comes while they do).
	kit.Workspace.SetCredentialLifetime(time.Hour)
	kit.Workspace.ClearFaults()
	for time.Until(expiry) > 0 {
		before := time.Until(expiry)
		if _, err := connect(); err != nil {
			t.Fatalf("connection %s before the first credential's end, after the workspace came back: %v", before, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if conn.Stats().CredentialExpiry.Equal(expiry) {
		t.Error("no new credential after the workspace came back")
	}
	if n := kit.Workspace.Mints(); n != 2 {
		t.Errorf("%d credentials minted, want 2", n)
	}
	s.addCredential(t, conn)
	s.check(t, logs)
}

// mostFetches is how many fetches the credential cache's backoff allows in
// span: the first at once, then after waits that double from 1 s, each
// jittered down to half at most.
func mostFetches(span time.Duration) int {
	n := 1
	for at, wait := time.Duration(0), 500*time.Millisecond; at+wait <= span; wait *= 2 {
		at += wait
		n++
	}
	return n
}

// A caller whose deadline passes during a slow mint gets
// context.DeadlineExceeded itself, at its deadline.
func TestFailureDeadlineDuringSlowMint(t *testing.T) {
	t.Parallel()
	kit, conn, db, logs := ownKitM2M(t, lakebasetest.Options{MintLatency: 2 * time.Second}, nil)
	// Look the instance up and log in to the workspace first, so that the
	// deadline falls in the mint.
	if _, _, err := conn.Host(contextFor(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		connect func(ctx context.Context) error
	}{
		{"Connector.Connect", func(ctx context.Context) error {
			c, err := conn.Connect(ctx)
			if err == nil {
				c.Close()
			}
			return err
		}},
		{"sql.DB", func(ctx context.Context) error { return db.PingContext(ctx) }},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		err := tc.connect(ctx)
		took := time.Since(start)
		cancel()
		if err != context.DeadlineExceeded {
			t.Errorf("%s: %v (%T); want context.DeadlineExceeded itself", tc.name, err, err)
		}
		// At the deadline, not at the end of the 2 s mint; the slack is for
		// a loaded machine.
		if took > time.Second {
			t.Errorf("%s returned after %s; want at the 300ms deadline", tc.name, took)
		}
	}
	s := kitSecrets(kit)
	s.addCredential(t, conn) // the slow mint, which went on without the callers
	if st := conn.Stats(); st.CredentialsMinted != 1 || kit.Workspace.Mints() != 1 {
		t.Errorf("%d credentials obtained, %d minted; want the one slow mint shared by both callers and kept", st.CredentialsMinted, kit.Workspace.Mints())
	}
	s.check(t, logs)
}

// A STARTING instance, or an endpoint being created, is waited for within
// the connect budget: Connect succeeds once it is ready, and with a budget
// too short for that it fails with ErrNotReady or the context's deadline.
func TestTargetNotReadyIsWaitedFor(t *testing.T) {
	t.Parallel()
	kit := sharedKit(t)

	for _, tt := range []struct {
		name string
		// target registers a target that is not ready, and returns its DSN
		// keys and what makes it ready.
		target func(t *testing.T) (keys string, ready func() error)
		logged []string // in the wait's log
	}{
		{name: "instance starting", target: func(t *testing.T) (string, func() error) {
			name := addInstance(t, kit, lakebasetest.InstanceOptions{State: "STARTING"})
			return "instance=" + name, func() error {
				return kit.Workspace.UpdateInstance(name, func(i *lakebasetest.Instance) { i.State = "AVAILABLE" })
			}
		}, logged: []string{"STARTING"}},
		{name: "endpoint being created", target: func(t *testing.T) (string, func() error) {
			path := addEndpoint(t, kit, lakebasetest.EndpointOptions{State: "INIT"})
			return "endpoint=" + path, func() error {
				return kit.Workspace.UpdateEndpoint(path, func(ep *lakebasetest.Endpoint) { ep.State = "ACTIVE" })
			}
		}, logged: []string{"INIT"}},
		// The wait's log says where a starting endpoint is going.
		{name: "endpoint pending ACTIVE", target: func(t *testing.T) (string, func() error) {
			path := addEndpoint(t, kit, lakebasetest.EndpointOptions{State: "INIT"})
			if err := kit.Workspace.UpdateEndpoint(path, func(ep *lakebasetest.Endpoint) { ep.PendingState = "ACTIVE" }); err != nil {
				t.Fatal(err)
			}
			return "endpoint=" + path, func() error {
				return errors.Join(kit.Workspace.UpdateEndpoint(path, func(ep *lakebasetest.Endpoint) { ep.State = "ACTIVE" }), kit.Workspace.UpdateEndpoint(path, func(ep *lakebasetest.Endpoint) { ep.PendingState = "" }))
			}
		}, logged: []string{"INIT, pending ACTIVE"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sp := newServicePrincipal(t, kit)
			keys, ready := tt.target(t)
			logs := newLogCapture()
			_, db := openConnector(t, keys+" "+m2mKeys(kit, sp), withLogger(logs))
			readyAt := readyOnceWaiting(t, logs, ready)
			wantCurrentUser(t, db, sp.ApplicationID)
			if readyAt().IsZero() {
				t.Error("connected before the target was ready")
			}
			for _, want := range append([]string{"target not ready"}, tt.logged...) {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("the wait's log does not say %q:\n%s", want, logs)
				}
			}
		})
	}

	t.Run("short deadline", func(t *testing.T) {
		t.Parallel()
		sp := newServicePrincipal(t, kit)
		name := addInstance(t, kit, lakebasetest.InstanceOptions{State: "STARTING"})
		conn, _ := openConnector(t, "instance="+name+" "+m2mKeys(kit, sp))
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		c, err := conn.Connect(ctx)
		took := time.Since(start)
		if err == nil {
			c.Close()
			t.Fatal("Connect succeeded while the instance is starting")
		}
		t.Logf("error after %s: %v", took, err)
		if !errors.Is(err, lakebase.ErrNotReady) && err != context.DeadlineExceeded {
			t.Errorf("error %v; want ErrNotReady or context.DeadlineExceeded itself", err)
		}
		if errors.Is(err, lakebase.ErrNotReady) {
			wantConnectError(t, err, "resolve", strconv.Quote(name), "STARTING")
		}
		if took > time.Second {
			t.Errorf("Connect returned after %s; want by the 300ms deadline", took)
		}
	})
}

// On a cold connector the mint (and, where the role is asked of the
// workspace, the identity) reach the workspace while the lookup is still
// held, once the login is done; the connect then succeeds with one of each.
func TestColdStartOverlaps(t *testing.T) {
	const held = 5 * time.Second
	for _, tc := range []struct {
		name     string
		auth     func(e *faultEnv) string
		identity bool // the role comes from SCIM Me
	}{
		{"oauth-m2m", func(e *faultEnv) string { return m2mAuth(e.kit.ServicePrincipal) }, false},
		{"pat", func(e *faultEnv) string { return "auth=pat token=" + quote(e.kit.User.Token) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newFaultEnv(t)
			ws := e.kit.Workspace
			db, _ := e.open(e.dsnWith("instance="+e.instance, tc.auth(e)))
			mints, mes := ws.Requests("database-credential"), ws.Requests("me")
			ws.Fail("instance", lakebasetest.Fault{Delay: held, Times: 1})
			defer ws.ClearFaults()
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- e.ping(db, 30*time.Second) }()
			for ws.Requests("database-credential") == mints || (tc.identity && ws.Requests("me") == mes) {
				select {
				case err := <-done:
					t.Fatalf("Ping ended (%v) before the mint and identity reached the workspace", err)
				case <-time.After(10 * time.Millisecond):
				}
				if time.Since(start) > held {
					t.Fatalf("no mint while the lookup was held for %s: the steps ran one after another", held)
				}
			}
			t.Logf("mint sent %s after the connect began, with the lookup held", since(start))
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if n := ws.Requests("database-credential") - mints; n != 1 {
				t.Errorf("%d mints, want 1", n)
			}
			if n := ws.Requests("me") - mes; tc.identity && n != 1 {
				t.Errorf("%d identity requests, want 1", n)
			}
		})
	}
}

// A lookup that fails may have let one credential be minted beside it; the
// connects after it, during its backoff and after, mint no more.
func TestColdStartMintsOnce(t *testing.T) {
	e := newFaultEnv(t)
	path := addEndpoint(t, e.kit, lakebasetest.EndpointOptions{})
	if err := e.kit.Workspace.UpdateEndpoint(path, func(ep *lakebasetest.Endpoint) { ep.Disabled = true }); err != nil {
		t.Fatal(err)
	}
	sp := newServicePrincipal(t, e.kit)
	e.keepSecret(sp.Secret)
	db, _ := e.open(e.dsnWith("endpoint="+path, m2mAuth(sp)))
	deadline := time.Now().Add(1500 * time.Millisecond) // past the first backoff
	for pings := 0; pings < 3 || time.Now().Before(deadline); pings++ {
		if err := e.ping(db, 10*time.Second); !errors.Is(err, lakebase.ErrStopped) {
			t.Fatalf("Ping %d = %v; want ErrStopped", pings, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := e.kit.Workspace.MintsFor(sp.ApplicationID); n > 1 {
		t.Errorf("%d credentials minted, want at most the 1 minted beside the first lookup", n)
	}
}

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

// closedPort returns a loopback address on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// A workspace that cannot be reached in a way that retrying cannot cure (a
// port that refuses connections, a server that does not speak TLS, a
// certificate no one trusts) fails Connect at once with ErrUnreachable,
// naming the workspace and the reason, instead of retrying until the
// context's deadline; the error carries one "lakebase:" prefix.
func TestUnreachableWorkspaceFailsAtOnce(t *testing.T) {
	t.Parallel()
	plain := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plain.Close)
	untrusted := httptest.NewUnstartedServer(http.NotFoundHandler())
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	untrusted.StartTLS()
	t.Cleanup(untrusted.Close)
	refused := "http://" + closedPort(t)
	tests := []struct {
		name, workspace, auth, reason string
	}{
		{"refused, pat", refused, "auth=pat token=dapi-not-a-secret-really", "refuses connections"},
		{"refused, oauth-m2m", refused, "auth=oauth-m2m client_id=app client_secret=s3cret-value", "refuses connections"},
		{"not TLS", "https://" + plain.Listener.Addr().String(), "auth=pat token=dapi-not-a-secret-really", "does not answer in TLS"},
		{"untrusted certificate", untrusted.URL, "auth=oauth-m2m client_id=app client_secret=s3cret-value", "certificate is not trusted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs, took, err := pingFails(t, "instance=orders workspace="+tt.workspace+" "+tt.auth)
			wantConnectError(t, err, "resolve", `instance "orders"`, "cannot reach the workspace "+tt.workspace, tt.reason)
			if !errors.Is(err, lakebase.ErrUnreachable) {
				t.Errorf("errors.Is(%v, ErrUnreachable) = false", err)
			}
			if n := strings.Count(err.Error(), "lakebase:"); n != 1 {
				t.Errorf("%q carries %d lakebase: prefixes, want 1", err, n)
			}
			if took > 5*time.Second {
				t.Errorf("the error took %s; an unreachable workspace is not retried", took)
			}
			var s secrets
			s.add("dapi-not-a-secret-really", "s3cret-value")
			s.check(t, logs, err)
		})
	}
}

// A workspace that keeps failing in a way that retrying may cure (503) is
// retried until the context ends; then Connect returns the context's error
// itself and logs the last failure, and Host, for tools such as lakebase
// ping, says what the workspace last answered.
func TestWorkspaceFailingUntilTheDeadlineSaysWhy(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusServiceUnavailable)
		_, _ = rw.Write([]byte(`{"error_code":"TEMPORARILY_UNAVAILABLE","message":"the workspace is down for maintenance"}`))
	}))
	t.Cleanup(down.Close)
	logs := newLogCapture()
	conn, _ := openConnector(t, "instance=orders workspace="+down.URL+" auth=pat token=dapi-not-a-secret-really", withLogger(logs))

	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, _, err := conn.Host(ctx)
	t.Logf("Host: %v", err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is(%v, DeadlineExceeded) = false", err)
	}
	wantConnectError(t, err, "resolve", `instance "orders"`, "did not answer in time", down.URL+" answered 503 Service Unavailable")

	ctx2, cancel2 := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel2()
	c, err := conn.Connect(ctx2)
	if err == nil {
		c.Close()
		t.Fatal("Connect succeeded")
	}
	if err != context.DeadlineExceeded {
		t.Errorf("Connect: %v, want context.DeadlineExceeded itself", err)
	}
	if !strings.Contains(logs.String(), "workspace_failure") || !strings.Contains(logs.String(), "503") {
		t.Errorf("the log does not say what the workspace answered:\n%s", logs)
	}
	var s secrets
	s.add("dapi-not-a-secret-really")
	s.check(t, logs, err)
}

// Fault 4, the workspace: with connect_timeout and a context without a
// deadline, the connect budget bounds each step that asks the workspace,
// whichever of its routes hangs: the login, the lookup, the identity and
// the mint. The Ping fails within the budget (and a generous ceiling for a
// loaded machine) with the step's ConnectError and
// context.DeadlineExceeded; Close then ends the request still waiting.
func TestFaultConnectBudgetBoundsWorkspaceSteps(t *testing.T) {
	const budget = 2 * time.Second
	for _, tc := range []struct {
		route string
		pat   bool // log in with the user's token, whose identity is a SCIM Me request
		step  string
	}{
		{route: "token", step: "resolve"},
		{route: "instance", step: "resolve"},
		{route: "me", pat: true, step: "identity"},
		{route: "database-credential", step: "mint"},
	} {
		t.Run(string(tc.route), func(t *testing.T) {
			e := newFaultEnv(t)
			dsn := e.dsn("connect_timeout=2")
			if tc.pat {
				dsn = e.dsnWith("instance="+e.instance, "auth=pat token="+quote(e.kit.User.Token), "connect_timeout=2")
			}
			e.kit.Workspace.Fail(tc.route, lakebasetest.Fault{Delay: time.Minute})
			db, _ := e.open(dsn)
			start := time.Now()
			err := e.record(db.PingContext(context.Background()))
			if took := time.Since(start); took > budget+scaled(2*time.Second) {
				t.Errorf("Ping failed after %s; want within the budget of %s", took, budget)
			}
			wantConnectError(t, err, tc.step, "within the connect budget of 2s")
			if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "lakebase: lakebase:") {
				t.Errorf("Ping = %v; want context.DeadlineExceeded", err)
			}
			e.waitNoLeaksAfterClose()
		})
	}
}
