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

// A wrong client secret is refused by the workspace's token route: the error
// says the workspace refused the login, names the step, and carries no
// secret.
func TestFailureWrongClientSecret(t *testing.T) {
	t.Parallel()
	kit := sharedKit(t)
	sp := newServicePrincipal(t, kit)
	wrong := sp
	wrong.Secret = "wrong-secret-" + uniqueName("s")
	logger, logs := debugLogger()
	_, db := openConnector(t, "instance="+lakebasetest.DefaultInstance+" "+m2mKeys(kit, wrong), func(c *lakebase.Config) { c.Logger = logger })
	err := db.PingContext(contextFor(t, 30*time.Second))
	if err == nil {
		t.Fatal("Ping succeeded with a wrong client secret")
	}
	t.Logf("error: %v", err)
	wantConnectError(t, err, "resolve", strconv.Quote(lakebasetest.DefaultInstance), "not authenticated")
	if !errors.Is(err, lakebase.ErrUnauthenticated) {
		t.Errorf("errors.Is(%v, ErrUnauthenticated) = false", err)
	}
	if n := kit.Workspace.MintsFor(sp.ApplicationID); n != 0 {
		t.Errorf("%d credentials minted, want 0", n)
	}
	kitSecrets(kit, sp.Secret, wrong.Secret).check(t, logs, err)
}

// An instance the workspace does not know is ErrNotFound, named in the
// error.
func TestFailureUnknownInstance(t *testing.T) {
	t.Parallel()
	kit := sharedKit(t)
	sp := newServicePrincipal(t, kit)
	name := uniqueName("no-such-instance")
	logger, logs := debugLogger()
	_, db := openConnector(t, "instance="+name+" "+m2mKeys(kit, sp), func(c *lakebase.Config) { c.Logger = logger })
	err := db.PingContext(contextFor(t, 30*time.Second))
	if err == nil {
		t.Fatal("Ping succeeded for an unknown instance")
	}
	t.Logf("error: %v", err)
	wantConnectError(t, err, "resolve", strconv.Quote(name), "not found")
	if !errors.Is(err, lakebase.ErrNotFound) {
		t.Errorf("errors.Is(%v, ErrNotFound) = false", err)
	}
	kitSecrets(kit, sp.Secret).check(t, logs, err)
}

// A stopped instance fails at once with ErrStopped, naming the instance and
// its state: waiting cannot help.
func TestFailureStoppedInstance(t *testing.T) {
	t.Parallel()
	kit := sharedKit(t)
	sp := newServicePrincipal(t, kit)
	name := addInstance(t, kit, lakebasetest.InstanceOptions{State: "STOPPED"})
	logger, logs := debugLogger()
	_, db := openConnector(t, "instance="+name+" "+m2mKeys(kit, sp), func(c *lakebase.Config) { c.Logger = logger })
	start := time.Now()
	err := db.PingContext(contextFor(t, 30*time.Second))
	took := time.Since(start)
	if err == nil {
		t.Fatal("Ping succeeded for a stopped instance")
	}
	t.Logf("error after %s: %v", took, err)
	wantConnectError(t, err, "resolve", strconv.Quote(name), "STOPPED")
	if !errors.Is(err, lakebase.ErrStopped) {
		t.Errorf("errors.Is(%v, ErrStopped) = false", err)
	}
	if took > 5*time.Second {
		t.Errorf("the error took %s; a stopped instance is not waited for", took)
	}
	kitSecrets(kit, sp.Secret).check(t, logs, err)
}

// An identity that may not use the instance gets ErrPermissionDenied from the
// mint.
func TestFailurePermissionDenied(t *testing.T) {
	t.Parallel()
	kit := sharedKit(t)
	sp := newServicePrincipal(t, kit)
	name := addInstance(t, kit, lakebasetest.InstanceOptions{})
	kit.Workspace.DenyInstance(name, sp.ApplicationID)
	logger, logs := debugLogger()
	_, db := openConnector(t, "instance="+name+" "+m2mKeys(kit, sp), func(c *lakebase.Config) { c.Logger = logger })
	err := db.PingContext(contextFor(t, 30*time.Second))
	if err == nil {
		t.Fatal("Ping succeeded for a denied identity")
	}
	t.Logf("error: %v", err)
	wantConnectError(t, err, "mint", strconv.Quote(name), sp.ApplicationID, "permission denied")
	if !errors.Is(err, lakebase.ErrPermissionDenied) {
		t.Errorf("errors.Is(%v, ErrPermissionDenied) = false", err)
	}
	kitSecrets(kit, sp.Secret).check(t, logs, err)
}

// The credential route answering 503 twice is retried by the SDK; the third
// attempt mints, and the connection opens.
func TestFailureWorkspace503ThenRecovery(t *testing.T) {
	t.Parallel()
	kit := lakebasetest.New(t, lakebasetest.Options{})
	kit.Workspace.Fail(lakebasetest.RouteDatabaseCredential, lakebasetest.Fault{Status: 503, Times: 2})
	logger, logs := debugLogger()
	conn, db := openConnector(t, kit.DSNs().M2M, func(c *lakebase.Config) { c.Logger = logger })
	if got := mustCurrentUser(t, db); got != kit.ServicePrincipal.ApplicationID {
		t.Errorf("current_user = %q", got)
	}
	if n := kit.Workspace.Requests(lakebasetest.RouteDatabaseCredential); n != 3 {
		t.Errorf("%d credential requests, want 3 (two refused, one served)", n)
	}
	if n := kit.Workspace.Mints(); n != 1 {
		t.Errorf("%d credentials minted, want 1", n)
	}
	var s secrets
	s.addKit(kit)
	s.addCredential(t, conn)
	s.check(t, logs)
}

// everyRoute lists the fake workspace's routes.
var everyRoute = []lakebasetest.Route{
	lakebasetest.RouteHostMetadata, lakebasetest.RouteOIDCDiscovery, lakebasetest.RouteToken,
	lakebasetest.RouteAuthorize, lakebasetest.RouteMe, lakebasetest.RouteDatabaseCredential,
	lakebasetest.RouteInstance, lakebasetest.RouteInstances, lakebasetest.RoutePostgresCredential,
	lakebasetest.RouteProjects, lakebasetest.RouteProject, lakebasetest.RouteBranches,
	lakebasetest.RouteBranch, lakebasetest.RouteEndpoints, lakebasetest.RouteEndpoint,
}

// While the workspace is down, new connections still open with the cached
// credential, without asking the workspace.
func TestFailureWorkspaceDownWhileCredentialValid(t *testing.T) {
	t.Parallel()
	kit := lakebasetest.New(t, lakebasetest.Options{})
	logger, logs := debugLogger()
	conn, db := openConnector(t, kit.DSNs().M2M, func(c *lakebase.Config) { c.Logger = logger })
	db.SetMaxIdleConns(0)
	mustCurrentUser(t, db)

	for _, route := range everyRoute {
		kit.Workspace.Fail(route, lakebasetest.Fault{Status: 503})
	}
	before := make(map[lakebasetest.Route]int)
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
	var s secrets
	s.addKit(kit)
	s.addCredential(t, conn)
	s.check(t, logs)
}

// A refresh that fails keeps the current credential in service while it is
// valid, and is retried with backoff, not once per connection; once the
// workspace is back, the next refresh lands.
func TestFailureRefreshFailsWhileCredentialValid(t *testing.T) {
	t.Parallel()
	const lifetime = 8 * time.Second
	kit := lakebasetest.New(t, lakebasetest.Options{CredentialLifetime: lifetime})
	logger, logs := debugLogger()
	// The refresh window opens 2 s into the credential's life; it is handed
	// out until 0.8 s (the default margin) before its end.
	conn, db := openConnector(t, kit.DSNs().M2M, func(c *lakebase.Config) {
		c.Logger = logger
		c.RefreshWindow = 6 * time.Second
	})
	db.SetMaxIdleConns(0)
	mustCurrentUser(t, db)
	var s secrets
	s.addKit(kit)
	s.addCredential(t, conn)
	expiry := conn.Stats().CredentialExpiry

	const down = "the credential service is down for maintenance"
	kit.Workspace.Fail(lakebasetest.RouteDatabaseCredential, lakebasetest.Fault{Status: 500, Message: down})
	requests := kit.Workspace.Requests(lakebasetest.RouteDatabaseCredential)
	time.Sleep(time.Until(expiry.Add(-5500 * time.Millisecond)))
	connections := 0
	for time.Until(expiry) > 2*time.Second {
		if _, err := currentUser(contextFor(t, 5*time.Second), db); err != nil {
			t.Fatalf("connection %d while refreshes fail: %v", connections, err)
		}
		connections++
	}
	attempts := kit.Workspace.Requests(lakebasetest.RouteDatabaseCredential) - requests
	st := conn.Stats()
	t.Logf("%d connections while refreshes failed, %d refresh attempts", connections, attempts)
	if attempts < 1 || attempts > 4 {
		t.Errorf("%d refresh attempts in 3.5 s of failures, want 1 to 4: retried with backoff", attempts)
	}
	if connections > 4 && attempts >= connections {
		t.Errorf("%d refresh attempts for %d connections: retried per connection", attempts, connections)
	}
	if st.MintFailures != uint64(attempts) || !st.CredentialExpiry.Equal(expiry) {
		t.Errorf("Stats = %+v; want %d failures and the first credential still current", st, attempts)
	}
	if !strings.Contains(logs.String(), "fetch failed") || !strings.Contains(logs.String(), down) {
		t.Errorf("the failed refresh was not logged:\n%s", logs)
	}

	// Back before the credential runs out: connections go on without a
	// failure, through its end, and a new credential arrives.
	kit.Workspace.ClearFaults()
	for time.Until(expiry) > 0 {
		if _, err := currentUser(contextFor(t, 5*time.Second), db); err != nil {
			t.Fatalf("connection %s before the first credential's end, after the workspace came back: %v", time.Until(expiry), err)
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

// A cached credential that the gateway rejects (revoked early) is dropped;
// the login is retried once with a fresh mint, and succeeds.
func TestFailureCredentialRejectedByGateway(t *testing.T) {
	t.Parallel()
	kit := lakebasetest.New(t, lakebasetest.Options{})
	logger, logs := debugLogger()
	conn, db := openConnector(t, kit.DSNs().M2M, func(c *lakebase.Config) { c.Logger = logger })
	db.SetMaxIdleConns(0)
	mustCurrentUser(t, db)
	var s secrets
	s.addKit(kit)
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
	kit := lakebasetest.New(t, lakebasetest.Options{})
	kit.Workspace.SetMintLatency(2 * time.Second)
	logger, logs := debugLogger()
	conn, db := openConnector(t, kit.DSNs().M2M, func(c *lakebase.Config) { c.Logger = logger })
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
	var s secrets
	s.addKit(kit)
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

	t.Run("becomes available", func(t *testing.T) {
		t.Parallel()
		sp := newServicePrincipal(t, kit)
		name := addInstance(t, kit, lakebasetest.InstanceOptions{State: "STARTING"})
		logger, logs := debugLogger()
		_, db := openConnector(t, "instance="+name+" "+m2mKeys(kit, sp), func(c *lakebase.Config) { c.Logger = logger })
		timer := time.AfterFunc(time.Second, func() {
			if err := kit.Workspace.SetInstanceState(name, "AVAILABLE"); err != nil {
				t.Error(err)
			}
		})
		defer timer.Stop()
		start := time.Now()
		ctx := contextFor(t, 10*time.Second)
		got, err := currentUser(ctx, db)
		took := time.Since(start)
		if err != nil {
			t.Fatalf("after %s: %v", took, err)
		}
		if got != sp.ApplicationID {
			t.Errorf("current_user = %q", got)
		}
		if took < 900*time.Millisecond {
			t.Errorf("connected after %s, before the instance was available", took)
		}
		t.Logf("connected after %s", took)
		if !strings.Contains(logs.String(), "target not ready") || !strings.Contains(logs.String(), "STARTING") {
			t.Errorf("the wait was not logged:\n%s", logs)
		}
	})

	t.Run("endpoint being created", func(t *testing.T) {
		t.Parallel()
		sp := newServicePrincipal(t, kit)
		path := addEndpoint(t, kit, lakebasetest.EndpointOptions{State: "INIT"})
		_, db := openConnector(t, "endpoint="+path+" "+m2mKeys(kit, sp), nil)
		timer := time.AfterFunc(time.Second, func() {
			if err := kit.Workspace.SetEndpointState(path, "ACTIVE"); err != nil {
				t.Error(err)
			}
		})
		defer timer.Stop()
		start := time.Now()
		got, err := currentUser(contextFor(t, 10*time.Second), db)
		took := time.Since(start)
		if err != nil {
			t.Fatalf("after %s: %v", took, err)
		}
		if got != sp.ApplicationID {
			t.Errorf("current_user = %q", got)
		}
		if took < 900*time.Millisecond {
			t.Errorf("connected after %s, before the endpoint was active", took)
		}
	})

	t.Run("short deadline", func(t *testing.T) {
		t.Parallel()
		sp := newServicePrincipal(t, kit)
		name := addInstance(t, kit, lakebasetest.InstanceOptions{State: "STARTING"})
		conn, _ := openConnector(t, "instance="+name+" "+m2mKeys(kit, sp), nil)
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
