package lakebasepgx_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
)

// The faults here are what a real PostgreSQL does to its sessions: a
// backend ended by pg_terminate_backend, and a fast restart. Either way the
// server sends FATAL 57P01 and closes the connection (over TLS with a
// close_notify first). Each scenario runs through a plain pgxpool and
// through lakebasepgx, in plain text and over TLS, straight to the server
// with a password role of the test's own, so that the end reaches the
// client as soon as the server has ended the session (a gateway would relay
// it a moment later).
//
// The tests that terminate backends run on the shared kit's server: they
// end only their own sessions. A restart ends every session on its server,
// so those tests start a server of their own.

// endedDB is a role and a database of a test's own on a server.
type endedDB struct {
	srv                    *pgserver.Server
	user, password, dbname string
}

// newEndedDB creates a role that logs in with a password and its database
// on srv.
func newEndedDB(t *testing.T, srv *pgserver.Server) endedDB {
	t.Helper()
	ctx := testContext(t, time.Minute)
	db := endedDB{srv: srv, user: uniqueName("ended"), password: "pw-" + uuid.NewString(), dbname: uniqueName("ended")}
	if err := srv.CreateRole(ctx, db.user, db.password); err != nil {
		t.Fatal(err)
	}
	if err := srv.CreateDatabase(ctx, db.dbname, db.user); err != nil {
		t.Fatal(err)
	}
	return db
}

// dsn is a key/value DSN of db that pgx and lakebase both read: plain text
// with sslmode=disable, else verifying the kit's certificate.
func (db endedDB) dsn(sslmode string) string {
	dsn := fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=%s",
		db.srv.Host(), db.srv.Port(), quote(db.user), quote(db.password), quote(db.dbname), sslmode)
	if sslmode != "disable" {
		dsn += " sslrootcert=" + quote(db.srv.CAFile())
	}
	return dsn
}

// openPool opens a pool of db for client: a plain pgxpool, or lakebasepgx's
// with the role's password (auth=password); it closes when the test ends.
func (db endedDB) openPool(t *testing.T, client, sslmode, extra string) *pgxpool.Pool {
	t.Helper()
	dsn := db.dsn(sslmode) + " " + extra
	if client == "pgxpool" {
		pool, err := pgxpool.New(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pool
	}
	return newPool(t, dsn+" auth=password").Pool
}

// pgxFault is one scenario's pool, through one client.
type pgxFault struct {
	t      *testing.T
	db     endedDB
	name   string // sslmode and client, for the names of its tables
	client string
	pool   *pgxpool.Pool

	superuser *pgx.Conn // terminate's
}

// clientOutcomes are what a scenario ends with through each client; an
// empty one is not checked, only logged.
type clientOutcomes struct{ pgxpool, lakebasepgx string }

// forEachClient runs scenario through a plain pgxpool and through
// lakebasepgx, each a pool of 8, in plain text and over TLS, and checks
// each outcome against want.
func forEachClient(t *testing.T, srv *pgserver.Server, want clientOutcomes, scenario func(f *pgxFault) string) {
	db := newEndedDB(t, srv)
	for _, sslmode := range []string{"disable", "verify-full"} {
		for _, client := range []string{"pgxpool", "lakebasepgx"} {
			t.Run(sslmode+"/"+client, func(t *testing.T) {
				f := &pgxFault{t: t, db: db, client: client, name: strings.ReplaceAll(sslmode, "-", "_") + "_" + client,
					pool: db.openPool(t, client, sslmode, "pool_max_conns=8")}
				expected := want.pgxpool
				if client == "lakebasepgx" {
					expected = want.lakebasepgx
				}
				got := scenario(f)
				if expected != "" && got != expected {
					t.Errorf("outcome %q, want %q", got, expected)
				}
				t.Logf("outcome: %s", got)
			})
		}
	}
}

// admin runs fn on a new superuser connection: the server may have
// restarted since the last.
func (f *pgxFault) admin(fn func(ctx context.Context, conn *pgx.Conn)) {
	f.t.Helper()
	ctx := testContext(f.t, time.Minute)
	conn, err := pgx.Connect(ctx, f.db.srv.SuperuserDSN())
	if err != nil {
		f.t.Fatal(err)
	}
	defer conn.Close(ctx)
	fn(ctx, conn)
}

// terminate ends the backends pids as pg_terminate_backend does and waits
// until none is in pg_stat_activity, which a backend leaves once it has
// sent its FATAL. It signals them all at once and watches them go, on a
// superuser connection opened by the first call, so that the sessions end
// within milliseconds of their last use: pg_terminate_backend's own wait
// looks every 100 ms, and eight of them in turn would take most of the
// second after which pgxpool pings an idle connection.
func (f *pgxFault) terminate(pids ...int) {
	f.t.Helper()
	ctx := testContext(f.t, time.Minute)
	if f.superuser == nil {
		conn, err := pgx.Connect(ctx, f.db.srv.SuperuserDSN())
		if err != nil {
			f.t.Fatal(err)
		}
		f.t.Cleanup(func() { _ = conn.Close(context.Background()) })
		f.superuser = conn
	}
	var signalled int
	err := f.superuser.QueryRow(ctx, "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM unnest($1::int[]) AS pid", pids).Scan(&signalled)
	if err != nil || signalled != len(pids) {
		f.t.Fatalf("pg_terminate_backend of %d backends: %d signalled, %v", len(pids), signalled, err)
	}
	for {
		var left int
		if err := f.superuser.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)", pids).Scan(&left); err != nil {
			f.t.Fatal(err)
		}
		if left == 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// restart restarts the server (a fast shutdown, then a start).
func (f *pgxFault) restart() {
	f.t.Helper()
	if err := f.db.srv.Restart(testContext(f.t, time.Minute)); err != nil {
		f.t.Fatal(err)
	}
}

// waitRunning waits until the statement holding marker sleeps on the
// server, and returns its backend's pid.
func (f *pgxFault) waitRunning(marker string) int {
	f.t.Helper()
	var pid int
	f.admin(func(ctx context.Context, conn *pgx.Conn) {
		for {
			err := conn.QueryRow(ctx, `SELECT pid FROM pg_stat_activity
				WHERE state = 'active' AND wait_event = 'PgSleep' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()`, marker).Scan(&pid)
			if err == nil {
				return
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				f.t.Fatal(err)
			}
			select {
			case <-ctx.Done():
				f.t.Fatalf("the statement %q never ran on the server", marker)
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	return pid
}

// count returns the rows of table, read on a new connection of the test's
// role: the pool's idle connections may be ended ones.
func (f *pgxFault) count(table string) int {
	f.t.Helper()
	ctx := testContext(f.t, time.Minute)
	conn, err := pgx.Connect(ctx, f.db.dsn("disable"))
	if err != nil {
		f.t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&rows); err != nil {
		f.t.Fatal(err)
	}
	return rows
}

// kind names the class of err, the part of an outcome that must match: the
// server's severity and SQLSTATE when errors.As finds its *pgconn.PgError.
func kind(err error) string {
	if err == nil {
		return "ok"
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Severity + " " + pe.Code
	}
	return "error: " + err.Error()
}

// statementInterrupted runs an INSERT that interrupt cuts short while it
// runs on the server, and returns its outcome. The INSERT's first run sleeps
// on the server for a minute (its sequence gives 1 only once), and the
// server shows it sleeping before interrupt is called, so it cannot end
// before the interruption however loaded the machine. Neither pool runs a
// statement again: the INSERT fails with the server's FATAL and writes no
// row (a second run would find 2, not sleep, and write one).
func (f *pgxFault) statementInterrupted(interrupt func(pid int)) string {
	ctx := testContext(f.t, 2*time.Minute)
	table := "cut_" + f.name
	if _, err := f.pool.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %[1]s; DROP SEQUENCE IF EXISTS %[1]s_runs; CREATE TABLE %[1]s (v int); CREATE SEQUENCE %[1]s_runs", table)); err != nil {
		f.t.Fatal(err)
	}
	marker := "cut me " + f.name
	done := make(chan error, 1)
	go func() {
		_, err := f.pool.Exec(ctx, fmt.Sprintf("INSERT INTO %[1]s SELECT 1 FROM pg_sleep(CASE WHEN nextval('%[1]s_runs') = 1 THEN 60 ELSE 0 END) -- %[2]s", table, marker))
		done <- err
	}()
	interrupt(f.waitRunning(marker)) // the statement is in flight
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		f.t.Fatal("the interrupted INSERT did not return")
	}
	rows := f.count(table)
	if rows > 1 || (err == nil) != (rows == 1) {
		f.t.Errorf("the INSERT returned %v and wrote %d rows", err, rows)
	}
	return fmt.Sprintf("%s, %d rows", kind(err), rows)
}

// A backend ended during a statement: the statement fails with the
// server's reason, FATAL 57P01, and is not run again.
func TestEndedTerminateDuringStatement(t *testing.T) {
	t.Parallel()
	want := "FATAL 57P01, 0 rows"
	forEachClient(t, shared.Kit(t).Postgres, clientOutcomes{pgxpool: want, lakebasepgx: want}, func(f *pgxFault) string {
		return f.statementInterrupted(func(pid int) { f.terminate(pid) })
	})
}

// A fast restart during a statement.
func TestEndedRestartDuringStatement(t *testing.T) {
	t.Parallel()
	want := "FATAL 57P01, 0 rows"
	forEachClient(t, restartableServer(t), clientOutcomes{pgxpool: want, lakebasepgx: want}, func(f *pgxFault) string {
		return f.statementInterrupted(func(int) { f.restart() })
	})
}

// restartableServer starts a server of the test's own, which it may
// restart; it skips on an existing server (LAKEBASE_TEST_POSTGRES_URL),
// which the kit does not restart.
func restartableServer(t *testing.T) *pgserver.Server {
	t.Helper()
	if os.Getenv("LAKEBASE_TEST_POSTGRES_URL") != "" {
		t.Skip("restarts need a throwaway server; LAKEBASE_TEST_POSTGRES_URL names an existing one")
	}
	return pgserver.New(t)
}

// poolEndedAfterUse fills the pool's 8 connections, then, round after
// round, uses all 8 at once, has end end their sessions right after (far
// less than the second of idleness after which pgxpool pings a connection
// before handing it out), and runs 8 statements at once on the pool; it
// reports how many of those failed.
func (f *pgxFault) poolEndedAfterUse(rounds int, end func(pids []int)) string {
	const size = 8
	ctx := testContext(f.t, 2*time.Minute)
	failed := 0
	for range rounds {
		conns := make([]*pgxpool.Conn, size)
		pids := make([]int, size)
		for i := range conns {
			c, err := f.pool.Acquire(ctx)
			if err != nil {
				f.t.Fatal(err)
			}
			if err := c.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pids[i]); err != nil {
				f.t.Fatal(err)
			}
			conns[i] = c
		}
		for _, c := range conns {
			c.Release() // back to the pool, idle
		}
		end(pids)
		errs := make(chan error, size)
		for range size {
			go func() {
				var one int
				errs <- f.pool.QueryRow(ctx, "SELECT 1").Scan(&one)
			}()
		}
		for range size {
			if err := <-errs; err != nil {
				failed++
				f.t.Logf("a statement after the sessions ended: %v", err)
			}
		}
	}
	return fmt.Sprintf("%d failed", failed)
}

// A pool of 8 whose sessions are all terminated right after their use:
// through lakebasepgx no statement issued afterwards fails, round after
// round, where pgxpool hands out the ended connections and every statement
// fails with the server's FATAL.
func TestEndedTerminatePoolAfterUse(t *testing.T) {
	t.Parallel()
	const rounds = 5
	forEachClient(t, shared.Kit(t).Postgres, clientOutcomes{pgxpool: fmt.Sprintf("%d failed", 8*rounds), lakebasepgx: "0 failed"}, func(f *pgxFault) string {
		return f.poolEndedAfterUse(rounds, func(pids []int) { f.terminate(pids...) })
	})
}

// The same with a fast restart ending the pool's sessions. pgxpool's
// outcome depends on how long the restart takes: it pings the connections
// idle for more than a second.
func TestEndedRestartPoolAfterUse(t *testing.T) {
	t.Parallel()
	forEachClient(t, restartableServer(t), clientOutcomes{lakebasepgx: "0 failed"}, func(f *pgxFault) string {
		return f.poolEndedAfterUse(3, func([]int) { f.restart() })
	})
}

// A notification that waits on an idle connection is not an end: the look
// before the connection is handed out reads it, pgx's OnNotification gets
// it, and the pool hands out the same connection.
func TestEndedNotificationKeepsConnection(t *testing.T) {
	t.Parallel()
	db := newEndedDB(t, shared.Kit(t).Postgres)
	poolCfg, err := pgxpool.ParseConfig("pool_max_conns=1")
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Pointer[pgconn.Notification]
	poolCfg.ConnConfig.OnNotification = func(_ *pgconn.PgConn, n *pgconn.Notification) { got.Store(n) }
	pool := newPoolWithConfig(t, db.dsn("verify-full")+" auth=password", poolCfg)
	ctx := testContext(t, 20*time.Second)

	var pid int
	conn, err := pool.Acquire(ctx)
	if err == nil {
		_, err = conn.Exec(ctx, "LISTEN ended")
	}
	if err == nil {
		err = conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid)
	}
	if err != nil {
		t.Fatal(err)
	}
	conn.Release()
	if _, err := pgxExec(ctx, db.dsn("disable"), "NOTIFY ended, 'waiting'"); err != nil {
		t.Fatal(err)
	}
	// Acquire, which pings nothing after so short an idle time, until the
	// notification has reached the connection.
	for got.Load() == nil {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p := conn.Conn().PgConn().PID(); p != uint32(pid) {
			t.Fatalf("the pool handed out backend %d, want %d: the connection with a notification waiting was replaced", p, pid)
		}
		conn.Release()
		select {
		case <-ctx.Done():
			t.Fatal("the notification never reached OnNotification")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if n := got.Load(); n.Channel != "ended" || n.Payload != "waiting" {
		t.Errorf("notification %+v", n)
	}
	if n := pool.Stat().NewConnsCount(); n != 1 {
		t.Errorf("%d connections opened, want 1", n)
	}
}

// pgxExec runs sql on a new connection for dsn.
func pgxExec(ctx context.Context, dsn, sql string) (pgconn.CommandTag, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	defer conn.Close(ctx)
	return conn.Exec(ctx, sql)
}

// The pool's own PrepareConn runs after the look, with pgx's meaning of its
// results, and never sees a connection whose session had ended; a
// BeforeAcquire, which pgxpool ignores next to a PrepareConn, is called in
// its place.
func TestEndedPrepareConnComposed(t *testing.T) {
	t.Parallel()
	db := newEndedDB(t, shared.Kit(t).Postgres)
	f := &pgxFault{t: t, db: db}
	errHook := errors.New("the application's hook refused")

	t.Run("PrepareConn", func(t *testing.T) {
		f.t = t
		var seen []uint32 // the backends the hook saw, in order
		var answer atomic.Int32
		poolCfg, err := pgxpool.ParseConfig("pool_max_conns=2")
		if err != nil {
			t.Fatal(err)
		}
		poolCfg.PrepareConn = func(_ context.Context, c *pgx.Conn) (bool, error) {
			seen = append(seen, c.PgConn().PID())
			switch answer.Swap(0) {
			case 1:
				return true, errHook
			case 2:
				return false, nil
			}
			return true, nil
		}
		pool := newPoolWithConfig(t, db.dsn("disable")+" auth=password", poolCfg)
		ctx := testContext(t, time.Minute)
		pid := func() uint32 {
			t.Helper()
			conn := acquire(t, ctx, pool)
			defer conn.Release()
			return conn.Conn().PgConn().PID()
		}

		first := pid()
		f.terminate(int(first))
		second := pid() // the ended one was destroyed before the hook saw it
		if second == first {
			t.Fatalf("the pool handed out backend %d, which was terminated", first)
		}
		answer.Store(1) // true and an error: the connection is kept, Acquire fails
		if _, err := pool.Acquire(ctx); !errors.Is(err, errHook) {
			t.Fatalf("acquire: %v, want the hook's error", err)
		}
		if s := pool.Stat(); s.TotalConns() != 1 || s.IdleConns() != 1 {
			t.Errorf("%d connections, %d idle; want the one, kept", s.TotalConns(), s.IdleConns())
		}
		answer.Store(2) // false and no error: destroyed, another is taken
		third := pid()
		if third == second {
			t.Errorf("the hook refused backend %d and the pool handed it out", second)
		}
		if want := []uint32{first, second, second, second, third}; fmt.Sprint(seen) != fmt.Sprint(want) {
			t.Errorf("the hook saw backends %v, want %v", seen, want)
		}
	})

	t.Run("BeforeAcquire", func(t *testing.T) {
		f.t = t
		var calls, refuse atomic.Int32
		poolCfg, err := pgxpool.ParseConfig("pool_max_conns=2")
		if err != nil {
			t.Fatal(err)
		}
		poolCfg.BeforeAcquire = func(context.Context, *pgx.Conn) bool {
			calls.Add(1)
			return refuse.Swap(0) == 0
		}
		pool := newPoolWithConfig(t, db.dsn("disable")+" auth=password", poolCfg)
		ctx := testContext(t, time.Minute)
		conn := acquire(t, ctx, pool)
		first := conn.Conn().PgConn().PID()
		conn.Release()
		refuse.Store(1)
		conn = acquire(t, ctx, pool)
		if conn.Conn().PgConn().PID() == first {
			t.Errorf("BeforeAcquire refused backend %d and the pool handed it out", first)
		}
		conn.Release()
		if n := calls.Load(); n != 3 {
			t.Errorf("BeforeAcquire called %d times, want 3", n)
		}
	})
}
