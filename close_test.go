package lakebase_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
	_ "github.com/lib/pq" // the superuser's view of the server
	"go.uber.org/goleak"
)

// closeCase is an auth mode for TestCloseLeavesNothingRunning: how to open
// the connector, and the workspace route that a first connect waits on.
type closeCase struct {
	name string
	// open returns the DSN and the edits of its Config, after setting up
	// what the mode needs (the environment, a Databricks CLI).
	open func(t *testing.T, kit *lakebasetest.Kit) (string, func(*lakebase.Config))
	// hang is the route that holds a first connect's workspace login; for
	// the modes whose login asks the workspace nothing, the lookup.
	hang string
}

// closeCases are the auth modes: oauth-m2m, pat, oauth-u2m (the in-process
// browser login), password with a lookup through the SDK's automatic login,
// automatic mode, and one of the SDK's own methods (databricks-cli).
func closeCases() []closeCase {
	instance := "instance=" + lakebasetest.DefaultInstance
	noEdit := func(*lakebase.Config) {}
	return []closeCase{
		{name: "oauth-m2m", hang: "token", open: func(_ *testing.T, kit *lakebasetest.Kit) (string, func(*lakebase.Config)) {
			return kit.DSNs().M2M, noEdit
		}},
		{name: "pat", hang: "instance", open: func(_ *testing.T, kit *lakebasetest.Kit) (string, func(*lakebase.Config)) {
			return kit.DSNs().PAT, noEdit
		}},
		{name: "oauth-u2m", hang: "token", open: func(t *testing.T, kit *lakebasetest.Kit) (string, func(*lakebase.Config)) {
			dir := filepath.Join(t.TempDir(), "lakebase")
			return kit.DSNs().U2M, func(c *lakebase.Config) {
				c.Browser = kit.Workspace.OpenBrowser
				c.TokenCacheDir = dir
			}
		}},
		{name: "password with lookup", hang: "token", open: func(t *testing.T, kit *lakebasetest.Kit) (string, func(*lakebase.Config)) {
			servicePrincipalInEnvironment(t, kit)
			return fmt.Sprintf("%s auth=password user=%s password=%s %s", instance, quote(kit.NativeRole), quote(kit.NativePassword),
				workspaceKeys(kit, kit.Workspace.URL())), noEdit
		}},
		{name: "automatic", hang: "token", open: func(t *testing.T, kit *lakebasetest.Kit) (string, func(*lakebase.Config)) {
			servicePrincipalInEnvironment(t, kit)
			return instance + " " + workspaceKeys(kit, kit.Workspace.URL()), noEdit
		}},
		{name: "databricks-cli", hang: "instance", open: func(t *testing.T, kit *lakebasetest.Kit) (string, func(*lakebase.Config)) {
			loggedInCLI(t, kit)
			return instance + " auth=databricks-cli " + workspaceKeys(kit, kit.Workspace.URL()), noEdit
		}},
	}
}

// servicePrincipalInEnvironment puts kit's service principal in the
// environment, for the SDK's automatic login.
func servicePrincipalInEnvironment(t *testing.T, kit *lakebasetest.Kit) {
	t.Setenv("DATABRICKS_CLIENT_ID", kit.ServicePrincipal.ApplicationID)
	t.Setenv("DATABRICKS_CLIENT_SECRET", kit.ServicePrincipal.Secret)
}

// db.Close (Connector.Close) ends every goroutine that the driver, lib/pq,
// database/sql and the Databricks SDK started for the connector, in every
// auth mode: after connecting, and with the first connect's workspace login
// (or lookup) in flight. goleak counts every goroutine of the process that
// did not run before the connector opened, SDK goroutines included; the
// kit's workspace keeps running, so the connector's idle connections to it
// must be closed too.
//
// Not parallel: it counts every goroutine of the process.
func TestCloseLeavesNothingRunning(t *testing.T) {
	kit := newKit(t, lakebasetest.Options{})
	for _, tc := range closeCases() {
		t.Run(tc.name+"/connected", func(t *testing.T) {
			dsn, edit := tc.open(t, kit)
			baseline := goleak.IgnoreCurrent()
			conn, db := openConnector(t, dsn, edit)
			db.SetMaxIdleConns(0) // every query connects, and so asks the engine
			for range 3 {
				if _, err := currentUser(contextFor(t, 30*time.Second), db); err != nil {
					t.Fatalf("SELECT current_user: %v", err)
				}
			}
			if _, err := conn.Credential(contextFor(t, 30*time.Second)); err != nil {
				t.Fatalf("Credential: %v", err)
			}
			closeAndCheck(t, db, nil, baseline)
		})
		t.Run(tc.name+"/login in flight", func(t *testing.T) {
			dsn, edit := tc.open(t, kit)
			baseline := goleak.IgnoreCurrent()
			_, db := openConnector(t, dsn, edit)
			kit.Workspace.Fail(tc.hang, lakebasetest.Fault{Delay: time.Minute})
			t.Cleanup(kit.Workspace.ClearFaults)
			before := kit.Workspace.Requests(tc.hang)
			pinged := make(chan error, 1)
			go func() { pinged <- db.PingContext(contextFor(t, time.Minute)) }()
			waitFor(t, 20*time.Second, "the first connect waits on "+string(tc.hang), func() bool {
				return kit.Workspace.Requests(tc.hang) > before
			})
			closeAndCheck(t, db, pinged, baseline)
		})
	}
}

// closeAndCheck closes db, waits (if pinged is not nil) for the Ping in
// flight to end, and fails the test unless, within a few seconds, every
// goroutine that was not running at baseline has ended.
func closeAndCheck(t *testing.T, db *sql.DB, pinged <-chan error, baseline goleak.Option) {
	t.Helper()
	start := time.Now()
	if err := db.Close(); err != nil {
		t.Errorf("db.Close: %v", err)
	}
	if pinged != nil {
		select {
		case err := <-pinged:
			if err == nil {
				t.Error("the Ping in flight at Close succeeded")
			}
		case <-time.After(scaled(10 * time.Second)):
			t.Fatal("the Ping in flight still runs 10s after db.Close")
		}
	}
	// A generous bound: what Close ends, it ends at once, but a loaded
	// machine may take a while to run the goroutines to their end.
	if took := time.Since(start); took > scaled(5*time.Second) {
		t.Errorf("db.Close and the connect in flight took %s", took)
	}
	waitNoGoroutines(t, baseline, scaled(10*time.Second))
}

// waitNoGoroutines fails the test unless, within d, goleak finds no
// goroutine but those of baseline.
func waitNoGoroutines(t *testing.T, baseline goleak.Option, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		err := goleak.Find(baseline)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("goroutines left %s after Close: %v", d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Fault 10: the connector closes (db.Close) while connects are in flight:
// in a lookup, in a mint, in a login.
func TestFaultCloseDuringConnects(t *testing.T) {
	const connects = 16
	for _, st := range []struct {
		name  string
		route string // the workspace route that hangs; empty: the login hangs
	}{
		{name: "lookup", route: "instance"},
		{name: "mint", route: "database-credential"},
		{name: "login"},
	} {
		t.Run(st.name, func(t *testing.T) {
			e := newFaultEnv(t)
			var reached func() int64 // how many requests or logins hang in the stage
			var db *sql.DB
			var c *lakebase.Connector
			if st.route != "" {
				db, c = e.open(e.dsn())
				before := e.kit.Workspace.Requests(st.route)
				e.kit.Workspace.Fail(st.route, lakebasetest.Fault{Delay: time.Minute})
				reached = func() int64 { return int64(e.kit.Workspace.Requests(st.route) - before) }
			} else {
				// The sessions go through a proxy in front of the gateway;
				// a first connect looks the instance up and mints, then the
				// proxy holds every new connection unanswered.
				hold := startTCPHold(t, net.JoinHostPort(e.gateway.Host(), strconv.Itoa(e.gateway.Port())))
				db, c = e.open(e.dsn(hold.DSNKeys()))
				if err := e.ping(db, 10*time.Second); err != nil {
					t.Fatal(err)
				}
				before := hold.Arrived()
				hold.Hold()
				reached = func() int64 { return hold.Arrived() - before }
			}
			db.SetMaxIdleConns(0)
			errs := make(chan error, connects)
			var wg sync.WaitGroup
			for range connects {
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					errs <- e.record(db.PingContext(ctx))
				})
			}
			want := int64(1) // one lookup or mint serves them all
			if st.route == "" {
				want = connects // each logs in on its own
			}
			waitFor(t, 10*time.Second, "every connect hangs in the "+st.name, func() bool {
				return reached() >= want && goroutinesIn("lakebase.(*Connector).Connect(") >= connects
			})
			if n := reached(); n != want {
				t.Errorf("%d %s requests in flight for %d connects, want %d", n, st.name, connects, want)
			}
			start := time.Now()
			if err := db.Close(); err != nil {
				t.Errorf("db.Close: %v", err)
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("connects still hang 5s after db.Close")
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("the connects ended %s after db.Close; want at once", took)
			}
			close(errs)
			for err := range errs {
				if !errors.Is(err, lakebase.ErrConnectorClosed) && !errors.Is(err, sql.ErrConnDone) && err.Error() != "sql: database is closed" {
					t.Errorf("connect in flight at Close = %v; want ErrConnectorClosed", err)
				}
			}
			if _, err := c.Credential(context.Background()); !errors.Is(err, lakebase.ErrConnectorClosed) {
				t.Errorf("Credential after Close = %v, want ErrConnectorClosed", err)
			}
			e.waitNoLeaks()
		})
	}
}
