package lakebase_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// The retirement of database/sql connections by age and idleness
// (conn_max_lifetime, conn_max_idle_time), with lifetimes of seconds, through
// sql.Open("lakebase", ...) to the shared kit as its native role.

// retireDB opens a pool of the shared kit's native role with the DSN keys
// extra, holding up to n connections, all kept while idle.
func retireDB(t *testing.T, n int, extra string) *sql.DB {
	t.Helper()
	db, err := sql.Open("lakebase", sharedKit(t).DSNs().Password+" "+extra)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	return db
}

// backendPID is the server process that runs q's session.
func backendPID(t *testing.T, ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) int {
	t.Helper()
	var pid int
	if err := q.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

// A busy pool whose connections live 2 s keeps answering across several
// lifetimes without an error while its connections are replaced; no
// connection serves a query long past its lifetime, and the connections
// retire at ages apart, not all at one instant. (That each draws its own
// lifetime is checked exactly in internal/pqsession: here the ages also
// differ by the moments of the requests and of the logins.)
func TestRetirementByAgeKeepsQueriesRunning(t *testing.T) {
	t.Parallel()
	const (
		pool     = 4
		lifetime = 2 * time.Second
	)
	db := retireDB(t, pool, "conn_max_lifetime=2s")
	ctx := contextFor(t, time.Minute)

	var (
		mu     sync.Mutex
		oldest = make(map[int]time.Duration) // pid: the oldest age at which its session ran a query
		errs   []error
	)
	var wg sync.WaitGroup
	stop := time.Now().Add(3*lifetime + lifetime/2)
	for range pool {
		wg.Go(func() {
			for time.Now().Before(stop) {
				var pid int
				var age float64 // seconds since the backend started, on the server's clock
				err := db.QueryRowContext(ctx, `SELECT pid, extract(epoch FROM clock_timestamp() - backend_start)::float8
					FROM pg_stat_activity WHERE pid = pg_backend_pid()`).Scan(&pid, &age)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					oldest[pid] = max(oldest[pid], time.Duration(age*float64(time.Second)))
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	wg.Wait()

	if len(errs) > 0 {
		t.Fatalf("%d queries failed across the retirements; the first: %v", len(errs), errs[0])
	}
	if len(oldest) < 2*pool {
		t.Fatalf("%d sessions served the pool of %d over %v; want them replaced as they aged", len(oldest), pool, 3*lifetime)
	}
	var aged []time.Duration // of the sessions that lived close to their lifetime
	for _, age := range oldest {
		// The backend starts after the driver's dial, and the query runs a
		// moment after its request started; room for a loaded machine.
		if slack := scaled(3 * time.Second); age > lifetime+slack {
			t.Errorf("a session ran a query at age %v; want none past its lifetime (%v) by more than %v", age, lifetime, slack)
		}
		if age >= lifetime*85/100 {
			aged = append(aged, age)
		}
	}
	if len(aged) < pool {
		t.Fatalf("%d of %d sessions lived near their lifetime; want at least %d", len(aged), len(oldest), pool)
	}
	lo, hi := aged[0], aged[0]
	for _, a := range aged {
		lo, hi = min(lo, a), max(hi, a)
	}
	// Each draws its lifetime from 1.8 s to 2 s.
	if hi-lo < lifetime/100 {
		t.Errorf("%d sessions retired at ages from %v to %v; want them spread by their drawn lifetimes", len(aged), lo, hi)
	}
	t.Logf("%d sessions; %d retired near their lifetime, at ages from %v to %v", len(oldest), len(aged), lo, hi)
}

// A transaction held open past its connection's lifetime is never broken:
// its statements and its commit run on its session, as does the rollback of
// a transaction that failed; the connection retires at the next request
// outside a transaction.
func TestRetirementWaitsForTheTransaction(t *testing.T) {
	t.Parallel()
	for _, end := range []string{"commit", "rollback of a failed transaction"} {
		t.Run(end, func(t *testing.T) {
			t.Parallel()
			db := retireDB(t, 1, "conn_max_lifetime=1s")
			ctx := contextFor(t, time.Minute)
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			pid := backendPID(t, ctx, tx)
			if end != "commit" {
				if _, err := tx.ExecContext(ctx, "SELECT 1/0"); err == nil {
					t.Fatal("1/0 succeeded")
				}
			}
			time.Sleep(1200 * time.Millisecond) // past the lifetime (1 s at most)
			if end == "commit" {
				if got := backendPID(t, ctx, tx); got != pid {
					t.Fatalf("the transaction's statement ran on backend %d, not its own %d", got, pid)
				}
				err = tx.Commit()
			} else {
				err = tx.Rollback()
			}
			if err != nil {
				t.Fatalf("%s past the lifetime: %v", end, err)
			}
			if got := backendPID(t, ctx, db); got == pid {
				t.Errorf("the next query ran on backend %d again; want the connection retired once the transaction ended", pid)
			}
		})
	}
}

// A connection idle for longer than conn_max_idle_time is replaced before
// its next request; 0 turns both retirements off.
func TestRetirementByIdleness(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		extra    string
		replaced bool
	}{
		{"conn_max_idle_time=1s conn_max_lifetime=0", true},
		{"conn_max_idle_time=0 conn_max_lifetime=0", false},
		{"conn_max_idle_time=0 conn_max_lifetime=1h", false},
	} {
		t.Run(tt.extra, func(t *testing.T) {
			t.Parallel()
			db := retireDB(t, 1, tt.extra)
			ctx := contextFor(t, time.Minute)
			pid := backendPID(t, ctx, db)
			if again := backendPID(t, ctx, db); again != pid {
				t.Fatalf("a busy connection was replaced (backend %d, then %d)", pid, again)
			}
			time.Sleep(1200 * time.Millisecond) // idle past 1 s
			if got := backendPID(t, ctx, db); (got != pid) != tt.replaced {
				t.Errorf("after 1.2 s idle: backend %d, before %d; want replaced %v", got, pid, tt.replaced)
			}
		})
	}
}

// A *sql.Conn pins its connection, so database/sql cannot move a request
// to another: once the connection is past its lifetime, the holder's next
// request outside a transaction fails with driver.ErrBadConn, nothing sent
// (the row is not written), and the *sql.Conn is done; the pool goes on.
func TestRetirementOfAHeldConn(t *testing.T) {
	t.Parallel()
	db := retireDB(t, 2, "conn_max_lifetime=1s")
	ctx := contextFor(t, time.Minute)
	table := strings.ReplaceAll(uniqueName("retire_held"), "-", "_")
	if _, err := db.ExecContext(ctx, "CREATE TABLE "+table+" (v int)"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = db.Exec("DROP TABLE " + table) })
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	backendPID(t, ctx, conn)
	time.Sleep(1200 * time.Millisecond) // past the lifetime (1 s at most)

	_, err = conn.ExecContext(ctx, "INSERT INTO "+table+" VALUES (1)")
	if !errors.Is(err, driver.ErrBadConn) {
		t.Fatalf("a request on a held connection past its lifetime = %v; want driver.ErrBadConn", err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT 1"); !errors.Is(err, sql.ErrConnDone) {
		t.Errorf("the held connection after its retirement = %v; want sql.ErrConnDone", err)
	}
	var rows int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Errorf("%d rows written; want none: the retired request was not sent", rows)
	}
}
