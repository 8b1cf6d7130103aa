package lakebase_test

import (
	"context"
	"database/sql"
	"errors"
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
	stages := []struct {
		name    string
		prepare func(e *faultEnv, db *sql.DB) // optional, before the stall
		stall   func(e *faultEnv)             // makes connects hang in the stage
		reached func(e *faultEnv) bool        // reports that one hangs there
	}{
		{
			name: "lookup",
			stall: func(e *faultEnv) {
				e.kit.Workspace.Fail(lakebasetest.RouteInstance, lakebasetest.Fault{Delay: time.Minute})
			},
			reached: func(e *faultEnv) bool { return e.kit.Workspace.Requests(lakebasetest.RouteInstance) > 0 },
		},
		{
			name: "mint",
			stall: func(e *faultEnv) {
				e.kit.Workspace.Fail(lakebasetest.RouteDatabaseCredential, lakebasetest.Fault{Delay: time.Minute})
			},
			reached: func(e *faultEnv) bool { return e.kit.Workspace.Requests(lakebasetest.RouteDatabaseCredential) > 0 },
		},
		{
			name:    "login",
			prepare: func(e *faultEnv, db *sql.DB) { _ = e.ping(db, 10*time.Second) },
			stall:   func(e *faultEnv) { e.gateway.Waking(0, time.Minute) },
			reached: func(e *faultEnv) bool { return true },
		},
	}
	for _, st := range stages {
		t.Run(st.name, func(t *testing.T) {
			e := newFaultEnv(t)
			e.kit.Workspace.ClearFaults()
			db, c := e.open(e.dsn())
			db.SetMaxIdleConns(0)
			if st.prepare != nil {
				st.prepare(e, db)
			}
			lookups := e.kit.Workspace.Requests(lakebasetest.RouteInstance)
			st.stall(e)
			defer e.gateway.Waking(0, 0)
			errs := make(chan error, connects)
			var wg sync.WaitGroup
			for range connects {
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					errs <- e.record(db.PingContext(ctx))
				})
			}
			for deadline := time.Now().Add(10 * time.Second); !st.reached(e); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the connects never reached the stage")
				}
			}
			time.Sleep(200 * time.Millisecond) // the others join
			if st.name == "lookup" {
				if n := e.kit.Workspace.Requests(lakebasetest.RouteInstance) - lookups; n != 1 {
					t.Errorf("%d lookups in flight for %d connects, want 1", n, connects)
				}
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
