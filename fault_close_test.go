package lakebase_test

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

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
