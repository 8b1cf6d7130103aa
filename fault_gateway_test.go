package lakebase_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"github.com/lib/pq"
)

// fillPool opens n connections at once and returns them to db's pool.
func fillPool(t *testing.T, db *sql.DB, n int) {
	t.Helper()
	conns := make([]*sql.Conn, n)
	for i := range conns {
		c, err := db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	for _, c := range conns {
		_ = c.Close()
	}
}

// queryOne runs SELECT 1 within d.
func queryOne(e *faultEnv, db *sql.DB, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var one int
	return e.record(db.QueryRowContext(ctx, "SELECT 1").Scan(&one))
}

// Fault 5: the gateway restarts, dropping every session. The query in flight
// fails; once its session is seen ending, the pool's other sessions, used
// moments ago, are looked at before their next request and replaced, so the
// queries after the restart all succeed.
func TestFaultGatewayRestart(t *testing.T) {
	e := newFaultEnv(t)
	db, _ := e.open(e.dsn())
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	fillPool(t, db, 4)

	inFlight := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := db.ExecContext(ctx, "SELECT pg_sleep(20) -- fault gateway restart")
		inFlight <- e.record(err)
	}()
	waitRunning(t, "fault gateway restart", false) // the query is in flight
	restart := time.Now()
	accepted := e.gateway.Stats().Accepted
	e.gateway.Restart()

	select {
	case err := <-inFlight:
		if err == nil {
			t.Error("the query in flight during the restart succeeded; want an error")
		}
		if took := time.Since(restart); took > 2*time.Second {
			t.Errorf("the query in flight failed %s after the restart; want at once", took)
		}
		t.Logf("query in flight: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the query in flight hangs after the restart")
	}
	for i := range 8 {
		if err := queryOne(e, db, 10*time.Second); err != nil {
			t.Fatalf("query %d after the restart: %v", i, err)
		}
	}
	if n := e.gateway.Stats().Accepted - accepted; n < 1 || n > 4 {
		t.Errorf("%d new logins after the restart, want between 1 and 4", n)
	}
	e.waitNoLeaksAfterClose()
}

// Fault 6: the database is out, then back, without restarting the program.
// The pool's sessions sat idle, so the driver looks at them before a
// request, finds them ended and dials: the queries fail at the dial.
func TestFaultDatabaseOutage(t *testing.T) {
	e := newFaultEnv(t)
	db, _ := e.open(e.dsn())
	fillPool(t, db, 2)
	if err := e.gateway.SetOutage(true); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		start := time.Now()
		err := queryOne(e, db, 5*time.Second)
		var ce *lakebase.ConnectError
		if !errors.As(err, &ce) || ce.Step != "dial" {
			t.Fatalf("query %d during the outage = %v; want a dial error", i, err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("query %d during the outage failed after %s; want at once", i, took)
		}
		if i == 0 {
			t.Logf("during the outage: %v", err)
		}
	}
	if err := e.gateway.SetOutage(false); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := queryOne(e, db, 10*time.Second); err != nil {
			t.Fatalf("query %d after the outage: %v", i, err)
		}
	}
	e.waitNoLeaksAfterClose()
}

// Fault 7: an Autoscaling endpoint wakes from scale to zero, refusing or
// holding the first connections.
func TestFaultWakingEndpoint(t *testing.T) {
	e := newFaultEnv(t)
	path := "projects/fault/branches/main/endpoints/" + e.instance
	gw, err := e.kit.AddEndpoint(lakebasetest.EndpointOptions{Path: path, State: "IDLE"})
	if err != nil {
		t.Fatal(err)
	}
	db, _ := e.open(e.dsnWith("endpoint="+path, m2mAuth(e.kit.ServicePrincipal)))
	db.SetMaxIdleConns(0)

	t.Run("refused while waking", func(t *testing.T) {
		gw.Waking(3, 0)
		if err := e.ping(db, 10*time.Second); err != nil {
			t.Fatalf("Ping while waking: %v", err)
		}
		if n := gw.Stats().Refused; n != 3 {
			t.Errorf("the gateway refused %d connections, want 3", n)
		}
	})
	t.Run("held while waking", func(t *testing.T) {
		const hold = 1500 * time.Millisecond
		gw.Waking(0, hold)
		start := time.Now()
		if err := e.ping(db, 10*time.Second); err != nil {
			t.Fatalf("Ping while waking: %v", err)
		}
		if took := time.Since(start); took < hold-200*time.Millisecond {
			t.Errorf("Ping took %s; the gateway held it for %s", took, hold)
		}
	})
	t.Run("held past the deadline", func(t *testing.T) {
		gw.Waking(0, 2*time.Second)
		defer gw.Waking(0, 0)
		start := time.Now()
		if err := e.ping(db, 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Ping held past its deadline = %v; want context.DeadlineExceeded", err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("Ping took %s with a 300ms deadline", took)
		}
	})
	t.Run("budget too short", func(t *testing.T) {
		gw.Waking(1000, 0)
		defer gw.Waking(0, 0)
		start := time.Now()
		err := e.ping(db, time.Second)
		var pe *pq.Error
		if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &pe) && pe.Code == "57P03") {
			t.Fatalf("Ping still refused at the deadline = %v; want the deadline or 57P03", err)
		}
		if took := time.Since(start); took > 1500*time.Millisecond {
			t.Errorf("Ping took %s with a 1s deadline", took)
		}
	})
	if err := e.kit.Workspace.UpdateEndpoint(path, func(ep *lakebasetest.Endpoint) { ep.State = "ACTIVE" }); err != nil {
		t.Fatal(err)
	}
	if err := e.ping(db, 10*time.Second); err != nil {
		t.Fatalf("Ping once awake: %v", err)
	}
	e.waitNoLeaksAfterClose()
}

// Fault 8: after a failover the instance's host is elsewhere.
func TestFaultHostChange(t *testing.T) {
	e := newFaultEnv(t)
	ws := e.kit.Workspace
	db, _ := e.open(e.dsn())
	db.SetMaxIdleConns(0)
	if err := e.ping(db, 10*time.Second); err != nil {
		t.Fatal(err)
	}

	t.Run("moved", func(t *testing.T) {
		next, err := e.kit.StartFailoverGateway(e.instance)
		if err != nil {
			t.Fatal(err)
		}
		lookups := ws.Requests("instance")
		if err := e.gateway.SetOutage(true); err != nil {
			t.Fatal(err)
		}
		if err := ws.UpdateInstance(e.instance, func(i *lakebasetest.Instance) { i.ReadWriteHost, i.ReadOnlyHost = next.Addr(), "" }); err != nil {
			t.Fatal(err)
		}
		if err := e.ping(db, 10*time.Second); err != nil {
			t.Fatalf("Ping after the host moved: %v", err)
		}
		if n := next.Stats().Accepted; n != 1 {
			t.Errorf("the new host let in %d connections, want 1", n)
		}
		if n := ws.Requests("instance") - lookups; n != 1 {
			t.Errorf("%d lookups, want 1", n)
		}
		if err := e.ping(db, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if n := ws.Requests("instance") - lookups; n != 1 {
			t.Errorf("%d lookups after a second connection, want still 1", n)
		}
		e.gateway = next
	})

	t.Run("failing over", func(t *testing.T) {
		next, err := e.kit.StartFailoverGateway(e.instance)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.gateway.SetOutage(true); err != nil {
			t.Fatal(err)
		}
		if err := ws.UpdateInstance(e.instance, func(i *lakebasetest.Instance) { i.State = "FAILING_OVER" }); err != nil {
			t.Fatal(err)
		}
		// The failover ends once the driver says it waits for it.
		overAt := readyOnceWaiting(t, e.logs, func() error {
			return errors.Join(ws.UpdateInstance(e.instance, func(i *lakebasetest.Instance) { i.ReadWriteHost, i.ReadOnlyHost = next.Addr(), "" }), ws.UpdateInstance(e.instance, func(i *lakebasetest.Instance) { i.State = "AVAILABLE" }))
		})
		if err := e.ping(db, 10*time.Second); err != nil {
			t.Fatalf("Ping during the failover: %v", err)
		}
		if overAt().IsZero() {
			t.Error("the Ping succeeded before the failover ended")
		}
		if n := next.Stats().Accepted; n != 1 {
			t.Errorf("the new host let in %d connections, want 1", n)
		}
	})
	e.waitNoLeaksAfterClose()
}

// A query whose context ends is cancelled on the server too, whichever
// context opened its connection.
func TestFaultQueryDeadline(t *testing.T) {
	e := newFaultEnv(t)
	db, _ := e.open(e.dsn())
	db.SetMaxOpenConns(1)
	if err := e.ping(db, 10*time.Second); err != nil { // the connection's context ends here
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := db.ExecContext(ctx, "SELECT pg_sleep(30) -- fault query deadline")
	var pe *pq.Error
	if !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &pe) && pe.Code == "57014") {
		t.Errorf("ExecContext past its deadline = %v; want the deadline or 57014 (query_canceled)", e.record(err))
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("ExecContext returned %s after its 300ms deadline", took)
	}
	waitFor(t, 5*time.Second, "the query ends on the server after its deadline", func() bool {
		var running int
		err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE state = 'active' AND query LIKE '%fault query deadline'`).Scan(&running)
		if err != nil {
			t.Fatal(err)
		}
		return running == 0
	})
	e.waitNoLeaksAfterClose()
}

// Fault 5 again, under writes: whatever lib/pq makes of a session that ends
// mid-statement (TCP's end, TLS's close_notify), database/sql must not run
// the statement a second time.
func TestFaultRestartsDoNotRepeatWrites(t *testing.T) {
	e := newFaultEnv(t)
	db, _ := e.open(e.dsn())
	db.SetMaxOpenConns(8)
	table := "writes_" + strings.ReplaceAll(e.instance, "-", "_")
	if _, err := db.Exec("CREATE TABLE " + table + " (writer int, seq int)"); err != nil {
		t.Fatal(e.record(err))
	}
	ctx, stop := context.WithTimeout(context.Background(), 4*time.Second)
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			time.Sleep(700 * time.Millisecond)
			if ctx.Err() != nil {
				return // a restart after the writes would only test the count below
			}
			e.gateway.Restart()
		}
	})
	var failed atomic.Int64
	start := time.Now()
	for w := range 8 {
		wg.Go(func() {
			for seq := 0; ctx.Err() == nil; seq++ {
				opCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := db.ExecContext(opCtx, "INSERT INTO "+table+" VALUES ($1, $2)", w, seq)
				cancel()
				if e.record(err) != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("writes stopped after %s", since(start))
	var twice, rows int
	err := db.QueryRow(`SELECT count(*) FILTER (WHERE n > 1), coalesce(sum(n), 0)
		FROM (SELECT count(*) AS n FROM `+table+` GROUP BY writer, seq) c`).Scan(&twice, &rows)
	if err != nil {
		t.Fatal(e.record(err))
	}
	if twice > 0 {
		t.Errorf("%d statements ran twice", twice)
	}
	t.Logf("%d rows written, %d writes failed during the restarts", rows, failed.Load())
	e.waitNoLeaksAfterClose()
}
