package lakebase_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
	"github.com/lib/pq"
)

// The faults here are what a real PostgreSQL does to its sessions: a backend
// ended by pg_terminate_backend, and a fast restart. Either way the server
// sends FATAL 57P01 and closes the connection (over TLS with a close_notify
// first). Each scenario runs through lib/pq's own driver and through
// lakebase.
// Both must end as the test says; where they differ, on purpose, the test
// says how (see the README's "What the transport does under lib/pq").
//
// They run on the package's shared server, in a database of their own. A
// restart ends every session on the server: these tests are not parallel,
// so none of the others runs meanwhile (see harness_test.go).

// faultDatabase is the role and database of these tests on the shared
// server, made by the first of them.
var faultDatabase lazy[*pgserver.Server]

// faultServer returns the shared server, with faultDatabase made.
func faultServer(t *testing.T) *pgserver.Server {
	srv := testServer(t)
	return faultDatabase.get(t, func(ctx context.Context) (*pgserver.Server, error) {
		if err := srv.CreateRole(ctx, "fault_user", nativePassword); err != nil {
			return nil, err
		}
		return srv, srv.CreateDatabase(ctx, "fault_db", "fault_user")
	})
}

// pgFault is one scenario's connections: the database under test through
// one driver, and the superuser's.
type pgFault struct {
	t      *testing.T
	srv    *pgserver.Server
	driver string
	db     *sql.DB
	admin  *sql.DB
	peer   *sql.DB // lib/pq's, as the same user in the same database
}

// outcomes are what a scenario ends with through each driver; an empty one
// is not checked (lib/pq's retry of an interrupted statement fails or not
// depending on how soon the server is back), only logged.
type outcomes struct{ postgres, lakebase string }

// same is the outcome expected alike through both drivers.
func same(o string) outcomes { return outcomes{postgres: o, lakebase: o} }

// forEachDriver runs scenario through lib/pq and through lakebase, in plain
// text and over TLS, and checks each driver's outcome against want.
func forEachDriver(t *testing.T, want outcomes, scenario func(f *pgFault) string) {
	srv := faultServer(t)
	for _, sslmode := range []string{"disable", "require"} {
		for _, driver := range []string{"postgres", "lakebase"} {
			t.Run(sslmode+"/"+driver, func(t *testing.T) {
				dsn := fmt.Sprintf("host=%s port=%d user=fault_user password=%s dbname=fault_db sslmode=%s",
					srv.Host(), srv.Port(), nativePassword, sslmode)
				f := &pgFault{t: t, srv: srv, driver: driver, db: mustOpen(t, driver, dsn),
					admin: mustOpen(t, "postgres", srv.SuperuserDSN()), peer: mustOpen(t, "postgres", dsn)}
				expected := want.postgres
				if driver == "lakebase" {
					expected = want.lakebase
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

// mustOpen opens a sql.DB closed when the test ends.
func mustOpen(t *testing.T, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// backendPID is the server process of db's one connection.
func (f *pgFault) backendPID() int {
	f.t.Helper()
	f.db.SetMaxOpenConns(1)
	var pid int
	if err := f.db.QueryRow("SELECT pg_backend_pid()").Scan(&pid); err != nil {
		f.t.Fatal(err)
	}
	return pid
}

// terminate ends backend pid as pg_terminate_backend does and waits until
// it is gone.
func (f *pgFault) terminate(pid int) {
	f.t.Helper()
	var done bool
	if err := f.admin.QueryRow("SELECT pg_terminate_backend($1, 10000)", pid).Scan(&done); err != nil || !done {
		f.t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, done, err)
	}
}

// restart restarts the server (a fast shutdown, then a start).
func (f *pgFault) restart() {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := f.srv.Restart(ctx); err != nil {
		f.t.Fatal(err)
	}
}

// kind names the class of err, the part of an outcome that must match: for
// a network error, with the server's reason when errors.As finds it.
func kind(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, driver.ErrBadConn):
		return "bad connection"
	}
	var ne net.Error
	if errors.As(err, &ne) {
		var pe *pq.Error
		if !errors.As(err, &pe) {
			return "network error"
		}
		var ended *lakebase.SessionEndedError
		if !errors.As(err, &ended) {
			return fmt.Sprintf("network error, %s %s", pe.Severity, pe.Code)
		}
		sent := "not sent"
		if ended.Sent {
			sent = "sent"
		}
		return fmt.Sprintf("network error, %s %s, %s", pe.Severity, pe.Code, sent)
	}
	return "error: " + err.Error()
}

// sessionEndsWhileIdle ends the session of f.db with end while it is idle
// (after waiting for wait) and reports what the next query makes of it.
func (f *pgFault) sessionEndsWhileIdle(wait time.Duration, end func(pid int)) string {
	pid := f.backendPID()
	time.Sleep(wait)
	end(pid)
	var next int
	err := f.db.QueryRow("SELECT pg_backend_pid()").Scan(&next)
	if err == nil && next == pid {
		f.t.Fatalf("still backend %d", pid)
	}
	return kind(err)
}

// An idle pooled session that the server ended is replaced without the
// caller seeing it, however recently it was used: lakebase looks at the
// socket before each request and finds the server's FATAL, so nothing is
// sent and database/sql moves the request to a new session. lib/pq sends
// the request, gets the FATAL, reports driver.ErrBadConn, and database/sql
// sends the request again (safe here, unsafe when the request was running:
// see the statement tests).
func TestFaultPostgresTerminateIdle(t *testing.T) {
	for _, wait := range []time.Duration{0, 1100 * time.Millisecond} {
		t.Run(fmt.Sprint("idle ", wait), func(t *testing.T) {
			forEachDriver(t, same("ok"), func(f *pgFault) string {
				return f.sessionEndsWhileIdle(wait, f.terminate)
			})
		})
	}
}

// A fast restart: idle sessions are replaced without the caller seeing it.
func TestFaultPostgresRestartIdle(t *testing.T) {
	forEachDriver(t, same("ok"), func(f *pgFault) string {
		return f.sessionEndsWhileIdle(0, func(int) { f.restart() })
	})
}

// poolEndedAfterUse fills a pool of 8 sessions, then, round after round,
// uses all 8 at once, has end end them right after, and runs 8 statements
// at once on the pool; it reports how many of those failed.
func (f *pgFault) poolEndedAfterUse(rounds int, end func(pids []int)) string {
	const size = 8
	f.db.SetMaxOpenConns(size)
	f.db.SetMaxIdleConns(size)
	failed := 0
	for range rounds {
		conns := make([]*sql.Conn, size)
		pids := make([]int, size)
		for i := range conns {
			c, err := f.db.Conn(context.Background())
			if err != nil {
				f.t.Fatal(err)
			}
			if err := c.QueryRowContext(context.Background(), "SELECT pg_backend_pid()").Scan(&pids[i]); err != nil {
				f.t.Fatal(err)
			}
			conns[i] = c
		}
		for _, c := range conns {
			_ = c.Close() // back to the pool, idle
		}
		end(pids)
		errs := make(chan error, size)
		for range size {
			go func() {
				var one int
				errs <- f.db.QueryRow("SELECT 1").Scan(&one)
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

// A pool of 8 whose sessions are all terminated right after their use: no
// statement issued afterwards fails, round after round.
func TestFaultPostgresTerminatePoolAfterUse(t *testing.T) {
	forEachDriver(t, same("0 failed"), func(f *pgFault) string {
		return f.poolEndedAfterUse(5, func(pids []int) {
			for _, pid := range pids {
				f.terminate(pid)
			}
		})
	})
}

// The same with a fast restart ending the pool's sessions.
func TestFaultPostgresRestartPoolAfterUse(t *testing.T) {
	forEachDriver(t, same("0 failed"), func(f *pgFault) string {
		return f.poolEndedAfterUse(2, func([]int) { f.restart() })
	})
}

// commitAfterEnd opens a transaction, writes a row in it, has end end the
// session while the transaction is idle, and reports what COMMIT makes of
// it and how many rows were written.
func (f *pgFault) commitAfterEnd(end func(pid int)) string {
	table := "tx_cut_" + f.driver
	if _, err := f.db.Exec(fmt.Sprintf("DROP TABLE IF EXISTS %[1]s; CREATE TABLE %[1]s (v int)", table)); err != nil {
		f.t.Fatal(err)
	}
	pid := f.backendPID()
	tx, err := f.db.Begin()
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO " + table + " VALUES (1)"); err != nil {
		f.t.Fatal(err)
	}
	end(pid)
	err = tx.Commit()
	var rows int
	if qerr := f.db.QueryRow("SELECT count(*) FROM " + table).Scan(&rows); qerr != nil {
		f.t.Fatal(qerr)
	}
	return fmt.Sprintf("%s, %d rows", kind(err), rows)
}

// A session ended inside a transaction: the COMMIT is never sent, and
// lakebase's error carries the server's reason (errors.As finds the
// *pq.Error), where lib/pq sends the COMMIT into the closed connection and
// reports driver.ErrBadConn, which database/sql returns without it.
func TestFaultPostgresTerminateInTransaction(t *testing.T) {
	forEachDriver(t, outcomes{postgres: "bad connection, 0 rows", lakebase: "network error, FATAL 57P01, not sent, 0 rows"}, func(f *pgFault) string {
		return f.commitAfterEnd(f.terminate)
	})
}

// statementInterrupted runs an INSERT that interrupt cuts short while it
// runs on the server, and returns its outcome. The INSERT's first run sleeps
// on the server for a minute (its sequence gives 1 only once), and the
// server shows it sleeping before interrupt is called: it cannot end before
// the interruption, however loaded the machine, and, unlike a wait for a
// lock held by another session, not during it either (a restart ends that
// session too, and its lock could let the INSERT commit). The INSERT must
// never be written twice; lib/pq, given the FATAL and then the end of the
// stream, reports driver.ErrBadConn and database/sql runs the INSERT again
// on a new session, which finds 2 and does not sleep (PostgreSQL makes that
// safe here by rolling the first back, but it is unsafe whenever the end
// comes after the server committed, as from a proxy). lakebase reports the
// end of the session, with the server's reason.
func (f *pgFault) statementInterrupted(interrupt func(pid int)) string {
	table := "cut_" + f.driver
	if _, err := f.db.Exec(fmt.Sprintf("DROP TABLE IF EXISTS %[1]s; DROP SEQUENCE IF EXISTS %[1]s_runs; CREATE TABLE %[1]s (v int); CREATE SEQUENCE %[1]s_runs", table)); err != nil {
		f.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := f.db.Exec(fmt.Sprintf("INSERT INTO %[1]s SELECT 1 FROM pg_sleep(CASE WHEN nextval('%[1]s_runs') = 1 THEN 60 ELSE 0 END) -- cut me %[2]s", table, f.driver))
		done <- err
	}()
	interrupt(waitRunning(f.t, "cut me "+f.driver, true)) // the statement is in flight
	err := <-done
	var rows int
	if err := f.db.QueryRow("SELECT count(*) FROM " + table).Scan(&rows); err != nil {
		f.t.Fatal(err)
	}
	if rows > 1 || (err == nil) != (rows == 1) {
		f.t.Errorf("the INSERT returned %v and wrote %d rows", err, rows)
	}
	return fmt.Sprintf("%s, %d rows", kind(err), rows)
}

// A backend ended during a statement.
func TestFaultPostgresTerminateDuringStatement(t *testing.T) {
	forEachDriver(t, outcomes{postgres: "ok, 1 rows", lakebase: "network error, FATAL 57P01, sent, 0 rows"}, func(f *pgFault) string {
		return f.statementInterrupted(f.terminate)
	})
}

// A fast restart during a statement.
func TestFaultPostgresRestartDuringStatement(t *testing.T) {
	forEachDriver(t, outcomes{lakebase: "network error, FATAL 57P01, sent, 0 rows"}, func(f *pgFault) string {
		return f.statementInterrupted(func(int) { f.restart() })
	})
}

// copyInterrupted runs a COPY that interrupt cuts short once it runs on the
// server, and returns its outcome: the copy fails at once, nothing is
// loaded, and the pool goes on.
func (f *pgFault) copyInterrupted(interrupt func(pid int)) string {
	table := "copy_cut_" + f.driver
	if _, err := f.db.Exec("DROP TABLE IF EXISTS " + table + "; CREATE TABLE " + table + " (id int, name text)"); err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- copyIn(ctx, f.db, table, 50*copyRows) }()
	interrupt(waitRunning(f.t, table, false))
	var err error
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		f.t.Fatal("the COPY hangs after its session ended")
	}
	var rows int
	if qerr := f.db.QueryRow("SELECT count(*) FROM " + table).Scan(&rows); qerr != nil {
		f.t.Fatal(qerr)
	}
	if err == nil {
		return fmt.Sprintf("copied, %d rows", rows)
	}
	// lib/pq reports the server's FATAL or driver.ErrBadConn, depending on
	// which of its goroutines sees the end first: both say the copy failed.
	f.t.Logf("the copy failed with %v", err)
	return fmt.Sprintf("failed, %d rows", rows)
}

// A backend ended during a COPY.
func TestFaultPostgresTerminateDuringCopy(t *testing.T) {
	forEachDriver(t, same("failed, 0 rows"), func(f *pgFault) string {
		return f.copyInterrupted(f.terminate)
	})
}

// A fast restart during a COPY.
func TestFaultPostgresRestartDuringCopy(t *testing.T) {
	forEachDriver(t, same("failed, 0 rows"), func(f *pgFault) string {
		return f.copyInterrupted(func(int) { f.restart() })
	})
}
