package lakebase_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
)

// A login whose Connect left is finished in the background and handed to
// the next Connect (handoff.go): while it is in flight, further Connects
// wait for it under their own contexts instead of dialling, and the session
// it gives serves the next Connect. The proxy counts the connections that
// reach the server: one, however many Connects give up.
func TestAbandonedLoginIsHandedOn(t *testing.T) {
	t.Parallel()
	host, port := nativeRole(t, "handoff_user", nativePassword)
	for _, mode := range []string{"disable", "require"} {
		t.Run(mode, func(t *testing.T) {
			hold := startTCPHold(t, net.JoinHostPort(host, strconv.Itoa(port)))
			hold.Hold()
			conn := mustConnector(t, &lakebase.Config{Host: hold.Host(), Port: hold.Port(), User: "handoff_user", Password: nativePassword, SSLMode: mode})
			db := sql.OpenDB(conn)
			defer db.Close()

			leaveLogin(t, hold, func(ctx context.Context) error {
				c, err := db.Conn(ctx)
				if c != nil {
					_ = c.Close()
				}
				return err
			})
			for range 20 {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
				c, err := db.Conn(ctx)
				cancel()
				if c != nil || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("db.Conn while the server holds the first login = %v, %v; want context.DeadlineExceeded", c, err)
				}
			}
			if n := hold.Arrived(); n != 1 {
				t.Fatalf("%d connections reached the server while one login was in flight; want that one alone", n)
			}

			hold.Release()
			var user string
			if err := db.QueryRow("SELECT current_user").Scan(&user); err != nil || user != "handoff_user" {
				t.Fatalf("query after the held login was let through = %q, %v", user, err)
			}
			if n := hold.Arrived(); n != 1 {
				t.Errorf("%d connections reached the server; want 1: the left login's session serves the next Connect", n)
			}
		})
	}
}

// A session that no Connect takes is closed after a while, and by Close.
func TestUntakenSpareIsClosed(t *testing.T) {
	t.Parallel()
	host, port := nativeRole(t, "spare_user", nativePassword)
	admin := mustOpen(t, "postgres", testServer(t).SuperuserDSN())
	sessions := func(app string) int {
		var n int
		if err := admin.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, end := range []string{"hold", "close"} {
		t.Run(end, func(t *testing.T) {
			app := "spare_" + end
			hold := startTCPHold(t, net.JoinHostPort(host, strconv.Itoa(port)))
			hold.Hold()
			conn := mustConnector(t, &lakebase.Config{Host: hold.Host(), Port: hold.Port(), User: "spare_user", Password: nativePassword,
				Params: map[string]string{"application_name": app}})
			defer conn.Close()
			leaveLogin(t, hold, func(ctx context.Context) error {
				c, err := conn.Connect(ctx)
				if c != nil {
					_ = c.Close()
				}
				return err
			})
			hold.Release()
			waitFor(t, 10*time.Second, "the left login ends on the server", func() bool { return sessions(app) == 1 })
			if end == "close" {
				if err := conn.Close(); err != nil {
					t.Fatal(err)
				}
			}
			// spareHold is 5 s; Close is at once.
			waitFor(t, 15*time.Second, "the untaken session is closed", func() bool { return sessions(app) == 0 })
		})
	}
}

// lib/pq's TestQueryRowContextBad runs 100 queries whose contexts are
// cancelled as they start; beside it, TestQueryRowContext wants a cancelled
// pg_sleep back within 50 ms. A Connect that gave up used to break off its
// login, so such a loop dialled again at once: some 60 connections in
// 40 ms, each of which the postmaster forks a process for, one at a time,
// and a cancel request is one more connection behind them. On a loaded
// machine the neighbour's cancel then took up to two seconds (the sleep ran
// to its end), through lakebase, where through lib/pq, whose Connect
// finishes its login, it took tens of milliseconds.
//
// Here the same loop runs through each driver while a query of the same
// driver sleeps on the server and its context's deadline passes: the time
// from the deadline to the query's return must be about lib/pq's (the
// median of several rounds, as a ratio). The cancel request through
// lakebase dials as lib/pq's does (the same address, TLS alike), so the loop
// beside it is all that can make it slower.
func TestCancelBesideCancelledConnects(t *testing.T) {
	host, port := nativeRole(t, "storm_user", nativePassword)
	for _, mode := range []string{"disable", "require"} {
		t.Run(mode, func(t *testing.T) {
			dsn := fmt.Sprintf("host=%s port=%d user=storm_user password=%s dbname=postgres sslmode=%s", host, port, nativePassword, mode)
			const rounds = 5
			took := map[string][]time.Duration{}
			for range rounds {
				for _, driver := range []string{"postgres", "lakebase"} {
					took[driver] = append(took[driver], cancelBesideStorm(t, driver, dsn))
				}
			}
			median := func(d []time.Duration) time.Duration { d = slices.Clone(d); slices.Sort(d); return d[len(d)/2] }
			pq, lb := median(took["postgres"]), median(took["lakebase"])
			t.Logf("deadline to return, median of %d: postgres %s %v, lakebase %s %v", rounds, pq, took["postgres"], lb, took["lakebase"])
			// The floor keeps a fast machine's jitter (a millisecond or
			// two) from counting as a ratio.
			if lb > 3*max(pq, 10*time.Millisecond) {
				t.Errorf("a cancel beside cancelled connects took %s through lakebase, %s through lib/pq: more than 3 times as long", lb, pq)
			}
		})
	}
}

// cancelBesideStorm runs, through driver, TestQueryRowContextBad's loop of
// cancelled queries on one sql.DB while a query on another sleeps until its
// context's deadline, and returns the time from that deadline to the
// query's return. The loop stops once the query has returned.
func cancelBesideStorm(t *testing.T, driver, dsn string) time.Duration {
	t.Helper()
	victim, storm := mustOpen(t, driver, dsn), mustOpen(t, driver, dsn)
	stmt, err := victim.Prepare("SELECT pg_sleep(10)")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	if err := storm.Ping(); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 100 {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithCancel(context.Background())
			go cancel()
			var v int
			_ = storm.QueryRowContext(ctx, "SELECT 1").Scan(&v)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = stmt.ExecContext(ctx)
	deadline, _ := ctx.Deadline()
	since := time.Since(deadline)
	close(stop)
	wg.Wait()
	if err == nil {
		t.Fatalf("through %s: pg_sleep(10) returned no error %s after its context's deadline", driver, since)
	}
	return since
}

// leaveLogin runs connect, waits until its login has reached the server
// through hold, and ends its context: connect must return context.Canceled
// itself, at once.
func leaveLogin(t *testing.T, hold *tcpHold, connect func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- connect(ctx) }()
	waitFor(t, 10*time.Second, "the connect reaches the server", func() bool { return hold.Arrived() == 1 })
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("connect = %v, want context.Canceled itself", err)
	}
}
