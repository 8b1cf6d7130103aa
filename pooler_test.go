package lakebase_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/internal/testenv"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"github.com/lib/pq"
)

// The tests of the pooled hosts: a real PgBouncer in transaction mode
// (the kit's), behind the kit's credential checks, in front of the shared
// server. Outside CI they skip where pgbouncer is not installed.

// poolerKit starts a kit of the test's own whose PgBouncer keeps poolSize
// server connections per role and database, and starts its PgBouncer.
func poolerKit(t *testing.T, poolSize int, lifetime time.Duration) *lakebasetest.Kit {
	t.Helper()
	kit := newKit(t, lakebasetest.Options{PgBouncerPoolSize: poolSize, CredentialLifetime: lifetime})
	testenv.Require(t, kit.StartPgBouncer(contextFor(t, time.Minute)))
	return kit
}

// pooledDSN is the DSN of the default endpoint's pooled host, logging in as
// auth says (the DSN keys of an auth mode).
func pooledDSN(kit *lakebasetest.Kit, auth string, extra ...string) string {
	return strings.Join(append([]string{"endpoint=" + quote(lakebasetest.DefaultEndpoint), "pooled=true", auth,
		workspaceKeys(kit, kit.Workspace.URL())}, extra...), " ")
}

// pooledGateway returns the gateway of the default endpoint's pooled host
// (readOnly: its read-only pooled host).
func pooledGateway(t *testing.T, kit *lakebasetest.Kit, readOnly bool) *lakebasetest.Gateway {
	t.Helper()
	hosts := endpointHostsOf(t, kit, lakebasetest.DefaultEndpoint)
	if readOnly {
		return gatewayAt(t, kit, hosts.ReadOnlyPooledHost)
	}
	return gatewayAt(t, kit, hosts.ReadWritePooledHost)
}

// Every mode that mints a credential reaches the pooled hosts, read-write
// and read-only, and logs in as its identity; so does a native role.
func TestPoolerAuthModes(t *testing.T) {
	kit := poolerKit(t, 0, 0)
	token, _ := loggedInCLI(t, kit) // for oauth-u2m
	native := "auth=password user=" + quote(kit.NativeRole) + " password=" + quote(kit.NativePassword) + " token=" + quote(kit.User.Token)
	for _, tc := range []struct {
		name, auth, want string
	}{
		{"oauth-m2m", m2mAuth(kit.ServicePrincipal), kit.ServicePrincipal.ApplicationID},
		{"pat", "auth=pat token=" + quote(kit.User.Token), kit.User.Email},
		{"oauth-u2m", "auth=oauth-u2m", kit.User.Email},
		{"password", native, kit.NativeRole},
	} {
		for _, readOnly := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s read_only=%v", tc.name, readOnly), func(t *testing.T) {
				gate := pooledGateway(t, kit, readOnly)
				before := accepted(gate)
				logs := newLogCapture()
				conn, db := openConnector(t, pooledDSN(kit, tc.auth, fmt.Sprintf("read_only=%v", readOnly)), withLogger(logs), func(c *lakebase.Config) {
					c.Browser = failingBrowser(t)
					c.TokenCacheDir = t.TempDir()
				})
				wantCurrentUser(t, db, tc.want)
				if n := accepted(gate) - before; n != 1 {
					t.Errorf("%d logins at the pooled host, want 1", n)
				}
				s := kitSecrets(kit, token)
				if tc.name != "password" {
					s.addCredential(t, conn)
				}
				s.check(t, logs)
			})
		}
	}
}

// pooled=true names an endpoint's pooled host: an endpoint without one is a
// clear error naming the endpoint, wrapping ErrNotFound, with at most the
// one credential minted beside the lookup. A pooler that takes native roles only (as Lakebase's did)
// refuses a minted credential like a wrong password: the error says what
// that means and where to read more, keeps the server's 28P01, and the
// connect tries one fresh credential, not more.
func TestPoolerRefusals(t *testing.T) {
	t.Parallel()
	kit := sharedKit(t)
	for _, tc := range []struct {
		name  string
		opts  lakebasetest.EndpointOptions
		step  string
		parts []string
		mints [2]int // at least, at most
		cause func(error) bool
	}{
		{"no pooled host", lakebasetest.EndpointOptions{}, "resolve", []string{"no pooled host"}, [2]int{0, 1},
			func(err error) bool { return errors.Is(err, lakebase.ErrNotFound) }},
		{"native roles only", lakebasetest.EndpointOptions{Pooled: true, PooledNativeOnly: true}, "login",
			[]string{"pooled host refused", "connection-pooling"}, [2]int{2, 2},
			func(err error) bool { var e *pq.Error; return errors.As(err, &e) && e.Code == "28P01" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := addEndpoint(t, kit, tc.opts)
			dsn := fmt.Sprintf("endpoint=%s pooled=true %s", quote(path), m2mKeys(kit, kit.ServicePrincipal))
			logs, _, err := pingFails(t, dsn)
			wantConnectError(t, err, tc.step, append([]string{path}, tc.parts...)...)
			if !tc.cause(err) {
				t.Errorf("error %v does not carry its cause", err)
			}
			if n := kit.Workspace.MintsForEndpoint(path); n < tc.mints[0] || n > tc.mints[1] {
				t.Errorf("%d credentials minted, want %d to %d", n, tc.mints[0], tc.mints[1])
			}
			kitSecrets(kit).check(t, logs, err)
		})
	}
}

// What applications do through database/sql works through the pooler:
// queries with arguments (bytea among them), transactions committed and
// rolled back, COPY, and many goroutines on more client connections than
// the pooler has server connections.
func TestPoolerDatabaseSQLWorkload(t *testing.T) {
	t.Parallel()
	const serverConns, clientConns, workers, rounds = 2, 12, 24, 40
	kit := poolerKit(t, serverConns, 0)
	_, db := openConnector(t, pooledDSN(kit, m2mAuth(kit.ServicePrincipal)))
	db.SetMaxOpenConns(clientConns)
	db.SetMaxIdleConns(clientConns)
	ctx := contextFor(t, 2*time.Minute)
	table := "pooled_" + strings.ReplaceAll(uniqueName("t")[2:], "-", "")
	mustExec(t, db, "CREATE TABLE "+table+" (id int PRIMARY KEY, name text NOT NULL, data bytea)")

	// Arguments, bytea included, in and out.
	payload := []byte{0, 1, 2, 0xff, 'x'}
	mustExec(t, db, "INSERT INTO "+table+" VALUES ($1, $2, $3)", 1, "one", payload)
	var name string
	var data []byte
	if err := db.QueryRowContext(ctx, "SELECT name, data FROM "+table+" WHERE id = $1", 1).Scan(&name, &data); err != nil || name != "one" || string(data) != string(payload) {
		t.Fatalf("row 1 = %q %x, %v", name, data, err)
	}

	// Transactions: one committed, one rolled back.
	for first, commit := range map[int]bool{10: true, 20: false} {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for id := first; id < first+5; id++ {
			if _, err := tx.ExecContext(ctx, "INSERT INTO "+table+" (id, name) VALUES ($1, $2)", id, "tx"); err != nil {
				t.Fatal(err)
			}
		}
		if commit {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	wantCount(t, db, "SELECT count(*) FROM "+table+" WHERE name = 'tx'", 5)

	// COPY, in a transaction as lib/pq runs it.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	stmt, err := tx.Prepare(pq.CopyIn(table, "id", "name"))
	if err != nil {
		t.Fatal(err)
	}
	for id := 100; id < 1100; id++ {
		if _, err := stmt.Exec(id, "copied"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := stmt.Exec(); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(stmt.Close(), tx.Commit()); err != nil {
		t.Fatal(err)
	}
	wantCount(t, db, "SELECT count(*) FROM "+table+" WHERE name = 'copied'", 1000)

	// Many goroutines, more client connections than server connections:
	// no statement fails, and the server sees no more backends than the
	// pool has.
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		errs    []error
		backend = map[int]bool{}
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				// Each worker's own query text: a statement parsed on one
				// server connection and bound on another would run some
				// other worker's query, or none.
				var pid, echoed int
				query := fmt.Sprintf("SELECT pg_backend_pid(), $1::int + %d", w)
				err := db.QueryRowContext(ctx, query, r).Scan(&pid, &echoed)
				if err == nil && echoed != w+r {
					err = fmt.Errorf("worker %d got %d, want %d", w, echoed, w+r)
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				backend[pid] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d statements failed; first: %v", len(errs), workers*rounds, errs[0])
	}
	if open := db.Stats().OpenConnections; open <= serverConns {
		t.Errorf("%d client connections open: the test wants more than the pool's %d server connections", open, serverConns)
	}
	if len(backend) > serverConns {
		t.Errorf("%d server backends served the statements, want at most the pool's %d", len(backend), serverConns)
	}
}

// Credentials rotate while clients stay connected to the pooler: held
// connections keep working past their credential's expiry, and new ones
// log in with fresh credentials.
func TestPoolerCredentialRotation(t *testing.T) {
	t.Parallel()
	lifetime := scaled(4 * time.Second)
	kit := poolerKit(t, 2, lifetime)
	_, db := openConnector(t, pooledDSN(kit, m2mAuth(kit.ServicePrincipal)))
	ctx := contextFor(t, time.Minute)
	held := make([]*sql.Conn, 4)
	for i := range held {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		held[i] = c
	}
	db.SetMaxIdleConns(0) // each round's ping below logs in anew
	for end := time.Now().Add(2*lifetime + lifetime/2); time.Now().Before(end); time.Sleep(lifetime / 8) {
		for i, c := range held {
			var one int
			if err := c.QueryRowContext(ctx, "SELECT $1::int", 1).Scan(&one); err != nil {
				t.Fatalf("held connection %d: %v", i, err)
			}
		}
		if err := db.PingContext(ctx); err != nil {
			t.Fatalf("new connection: %v", err)
		}
	}
	if n := kit.Workspace.MintsForEndpoint(lakebasetest.DefaultEndpoint); n < 3 {
		t.Errorf("%d credentials minted over two and a half lifetimes, want at least 3", n)
	}
}

// What transaction mode takes away, through database/sql: a statement
// prepared with db.Prepare lives on one server connection, so run later
// while that connection serves another client it fails with the server's
// 26000 (unless the pooler tracks prepared statements); a SET outside a
// transaction stays on the server connection, not with the client, while
// SET LOCAL inside a transaction works; a runtime parameter that PgBouncer
// does not track is refused at login, naming it.
func TestPoolerTransactionModeLimits(t *testing.T) {
	t.Parallel()
	kit := poolerKit(t, 2, 0)
	_, db := openConnector(t, pooledDSN(kit, m2mAuth(kit.ServicePrincipal)))
	ctx := contextFor(t, time.Minute)
	a, b := pinned(t, db), pinned(t, db)

	// a prepares on the server connection it gets, which then goes back to
	// the pool; b's transaction takes that connection (PgBouncer hands out
	// the one used last) and holds it while a runs its statement.
	stmt, err := a.PrepareContext(ctx, "SELECT $1::int")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	holdServer := func(run func()) {
		tx, err := b.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
		run()
	}
	holdServer(func() {
		var n int
		err := stmt.QueryRowContext(ctx, 7).Scan(&n)
		var pqErr *pq.Error
		switch {
		case err == nil:
			t.Log("this pooler keeps prepared statements across server connections")
		case errors.As(err, &pqErr) && pqErr.Code == "26000":
			t.Logf("as documented: %v", err)
		default:
			t.Errorf("prepared statement on another server connection: %v; want it to work or fail with 26000", err)
		}
	})

	if _, err := a.ExecContext(ctx, "SET lakebase.marker = 'a'"); err != nil {
		t.Fatal(err)
	}
	holdServer(func() {
		var got string
		if err := a.QueryRowContext(ctx, "SELECT coalesce(current_setting('lakebase.marker', true), '')").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got == "a" {
			t.Error("a SET outside a transaction followed the client to another server connection")
		}
	})
	tx, err := a.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var local string
	if _, err := tx.ExecContext(ctx, "SET LOCAL lakebase.marker = 'local'"); err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRowContext(ctx, "SELECT current_setting('lakebase.marker')").Scan(&local); err != nil || local != "local" {
		t.Errorf("SET LOCAL in a transaction: %q, %v", local, err)
	}
	_ = tx.Rollback()

	logs, _, err := pingFails(t, pooledDSN(kit, m2mAuth(kit.ServicePrincipal), "search_path=app"))
	wantConnectError(t, err, "login", "search_path")
	kitSecrets(kit).check(t, logs, err)
}

// pinned returns one connection of db of its own, closed when the test ends.
func pinned(t *testing.T, db *sql.DB) *sql.Conn {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// mustExec runs a statement or fails the test.
func mustExec(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// wantCount fails the test unless query counts want.
func wantCount(t *testing.T, db *sql.DB, query string, want int) {
	t.Helper()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil || n != want {
		t.Fatalf("%s = %d, %v; want %d", query, n, err, want)
	}
}

// Inside a Databricks App whose PGHOST is an endpoint's pooled host,
// "pooled=true" alone is enough: the endpoint is found by that host, its
// credential minted, and the session runs through the pooler with lib/pq
// set up for transaction mode (a workload of distinct query texts comes
// back right).
func TestPoolerInDatabricksApp(t *testing.T) {
	kit := poolerKit(t, 2, 0)
	sp := newServicePrincipal(t, kit)
	pooled := pooledGateway(t, kit, false)
	appEnvironment(t, kit, sp, pooled.Addr())
	_, db := openConnector(t, "pooled=true")
	wantCurrentUser(t, db, sp.ApplicationID)
	if n := accepted(pooled); n != 1 {
		t.Errorf("the pooled host accepted %d logins, want 1", n)
	}
	if n := kit.Workspace.MintsForEndpoint(lakebasetest.DefaultEndpoint); n != 1 {
		t.Errorf("%d credentials minted for the endpoint, want 1", n)
	}
	db.SetMaxOpenConns(8)
	var wg sync.WaitGroup
	errs := make(chan error, 8*20)
	for w := range 8 {
		wg.Go(func() {
			for r := range 20 {
				var got int
				err := db.QueryRow(fmt.Sprintf("SELECT $1::int + %d", w), r).Scan(&got)
				if err == nil && got != w+r {
					err = fmt.Errorf("worker %d got %d, want %d", w, got, w+r)
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
