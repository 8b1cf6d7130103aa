package lakebase_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

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

// A cached credential that the gateway rejects (revoked early) is dropped;
// the login is retried once with a fresh mint, and succeeds.
func TestFailureCredentialRejectedByGateway(t *testing.T) {
	t.Parallel()
	kit, conn, db, logs := ownKitM2M(t, lakebasetest.Options{}, nil)
	db.SetMaxIdleConns(0)
	mustCurrentUser(t, db)
	s := kitSecrets(kit)
	s.addCredential(t, conn)

	kit.RevokeCredentials()
	gate := kit.InstanceGateway().Stats()
	if got := mustCurrentUser(t, db); got != kit.ServicePrincipal.ApplicationID {
		t.Errorf("current_user = %q", got)
	}
	after := kit.InstanceGateway().Stats()
	if st := conn.Stats(); st.LoginRetries != 1 || st.CredentialsMinted != 2 {
		t.Errorf("Stats: %d login retries, %d credentials; want 1 and 2", st.LoginRetries, st.CredentialsMinted)
	}
	if n := kit.Workspace.Mints(); n != 2 {
		t.Errorf("%d credentials minted, want 2", n)
	}
	if r, a := after.Rejected-gate.Rejected, after.Accepted-gate.Accepted; r != 1 || a != 1 {
		t.Errorf("gateway: %d rejected, %d accepted; want 1 and 1", r, a)
	}
	if !strings.Contains(logs.String(), "login rejected") {
		t.Errorf("the retry was not logged:\n%s", logs)
	}
	s.addCredential(t, conn)
	s.check(t, logs)
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
