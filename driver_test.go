package lakebase_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lib/pq"
	_ "github.com/lib/pq" // the superuser's view of the server
)

const nativePassword = "native-Secret-4711"

// nativeRole creates a role with a password on the shared server and returns
// the server.
func nativeRole(t *testing.T, role, password string) (host string, port int) {
	t.Helper()
	srv := testServer(t)
	if err := srv.CreateRole(context.Background(), role, password); err != nil {
		t.Fatal(err)
	}
	return srv.Host(), srv.Port()
}

// queryUserAndSSL opens dsn with the lakebase driver and returns the session's
// user and whether it runs over TLS.
func queryUserAndSSL(t *testing.T, dsn string) (user string, ssl bool) {
	t.Helper()
	db, err := sql.Open("lakebase", dsn)
	if err != nil {
		t.Fatalf("sql.Open: %v", err)
	}
	defer db.Close()
	err = db.QueryRow(`SELECT current_user, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())`).Scan(&user, &ssl)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	return user, ssl
}

func TestNativePasswordLogin(t *testing.T) {
	host, port := nativeRole(t, "native_user", nativePassword)
	ca := testServer(t).CAFile()
	cases := []struct {
		name    string
		dsn     string
		wantSSL bool
	}{
		{"url", fmt.Sprintf("lakebase://native_user:%s@%s:%d/databricks_postgres", url.PathEscape(nativePassword), host, port), true},
		{"postgres url", fmt.Sprintf("postgres://native_user:%s@%s:%d/?auth=password", nativePassword, host, port), true},
		{"key/value", fmt.Sprintf("host=%s port=%d user=native_user password='%s'", host, port, nativePassword), true},
		{"verify-full", fmt.Sprintf("host=localhost port=%d user=native_user password=%s sslmode=verify-full sslrootcert=%s", port, nativePassword, ca), true},
		{"disable", fmt.Sprintf("host=%s port=%d user=native_user password=%s sslmode=disable", host, port, nativePassword), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			user, ssl := queryUserAndSSL(t, tc.dsn)
			if user != "native_user" || ssl != tc.wantSSL {
				t.Errorf("got user %q ssl %v, want native_user ssl %v", user, ssl, tc.wantSSL)
			}
		})
	}
}

func TestNativePasswordFromEnvironmentOnly(t *testing.T) {
	host, port := nativeRole(t, "env_user", nativePassword)
	for name, value := range map[string]string{
		"PGHOST": host, "PGPORT": fmt.Sprint(port), "PGUSER": "env_user", "PGPASSWORD": nativePassword,
		"PGDATABASE": "databricks_postgres", "PGSSLMODE": "require", "LAKEBASE_AUTH": "password",
	} {
		t.Setenv(name, value)
	}
	user, ssl := queryUserAndSSL(t, "")
	if user != "env_user" || !ssl {
		t.Errorf("got user %q ssl %v, want env_user over TLS", user, ssl)
	}
}

func TestWrongPassword(t *testing.T) {
	host, port := nativeRole(t, "wrong_pw_user", nativePassword)
	const wrong = "not-the-Password-0815"
	db, err := sql.Open("lakebase", fmt.Sprintf("host=%s port=%d user=wrong_pw_user password=%s", host, port, wrong))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Ping()
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) || pqErr.Code != "28P01" {
		t.Fatalf("got %v, want a *pq.Error with SQLSTATE 28P01", err)
	}
	var ce *lakebase.ConnectError
	if !errors.As(err, &ce) || ce.Step != "login" || ce.User != "wrong_pw_user" {
		t.Fatalf("got %#v, want a ConnectError of step login for wrong_pw_user", err)
	}
	if !strings.HasPrefix(err.Error(), "lakebase: login ") {
		t.Errorf("error %q does not name the step", err)
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), wrong) {
		t.Errorf("error leaks the password")
	}
}

func TestTokenSourceSuppliesEveryConnection(t *testing.T) {
	host, port := nativeRole(t, "token_user", nativePassword)
	var calls atomic.Int32
	src := lakebase.TokenSourceFunc(func(ctx context.Context) (lakebase.Token, error) {
		calls.Add(1)
		return lakebase.Token{Value: nativePassword}, nil // no expiry: asked every time
	})
	db := sql.OpenDB(mustConnector(t, &lakebase.Config{Host: host, Port: port, User: "token_user", TokenSource: src}))
	defer db.Close()
	db.SetMaxIdleConns(0) // every query opens a new connection
	const queries = 5
	for i := range queries {
		var user string
		if err := db.QueryRow("SELECT current_user").Scan(&user); err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		if user != "token_user" {
			t.Fatalf("current_user = %q", user)
		}
	}
	if got := calls.Load(); got != queries {
		t.Errorf("TokenSource asked %d times for %d connections, want one per connection", got, queries)
	}
}

func TestTokenSourceWithExpiryIsCached(t *testing.T) {
	host, port := nativeRole(t, "cached_token_user", nativePassword)
	var calls atomic.Int32
	src := lakebase.TokenSourceFunc(func(ctx context.Context) (lakebase.Token, error) {
		calls.Add(1)
		return lakebase.Token{Value: nativePassword, Expiry: time.Now().Add(time.Hour)}, nil
	})
	conn := mustConnector(t, &lakebase.Config{Host: host, Port: port, User: "cached_token_user", TokenSource: src})
	db := sql.OpenDB(conn)
	defer db.Close()
	db.SetMaxIdleConns(0)
	for i := range 5 {
		if err := db.Ping(); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
	}
	if got := calls.Load(); got != 1 {
		t.Errorf("TokenSource asked %d times, want once: a token with an expiry is reused", got)
	}
	if s := conn.Stats(); s.CredentialsMinted != 1 || s.CredentialExpiry.IsZero() {
		t.Errorf("Stats = %+v, want one credential with an expiry", s)
	}
}

func TestTokenSourceWrongTokenRejected(t *testing.T) {
	host, port := nativeRole(t, "rejected_token_user", nativePassword)
	const wrong = "wrong-Token-9999"
	src := lakebase.TokenSourceFunc(func(ctx context.Context) (lakebase.Token, error) {
		return lakebase.Token{Value: wrong}, nil
	})
	db := sql.OpenDB(mustConnector(t, &lakebase.Config{Host: host, Port: port, User: "rejected_token_user", TokenSource: src}))
	defer db.Close()
	err := db.Ping()
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) || pqErr.Code != "28P01" {
		t.Fatalf("got %v, want SQLSTATE 28P01", err)
	}
	if strings.Contains(err.Error(), wrong) {
		t.Errorf("error leaks the token")
	}
}

func TestCancelledContext(t *testing.T) {
	host, port := nativeRole(t, "cancel_user", nativePassword)
	t.Run("before connect", func(t *testing.T) {
		conn := mustConnector(t, &lakebase.Config{Host: host, Port: port, User: "cancel_user", Password: nativePassword})
		defer conn.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		c, err := conn.Connect(ctx)
		if err != context.Canceled || c != nil {
			t.Fatalf("Connect = %v, %v; want nil, context.Canceled itself", c, err)
		}
	})
	t.Run("during a slow token source", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		src := lakebase.TokenSourceFunc(func(tctx context.Context) (lakebase.Token, error) {
			cancel() // the caller gives up while the credential is being fetched
			<-tctx.Done()
			return lakebase.Token{}, tctx.Err()
		})
		conn := mustConnector(t, &lakebase.Config{Host: host, Port: port, User: "cancel_user", TokenSource: src})
		db := sql.OpenDB(conn)
		defer db.Close()
		_, err := db.Conn(ctx)
		if err != context.Canceled || !errors.Is(err, context.Canceled) {
			t.Fatalf("db.Conn = %v, want context.Canceled itself", err)
		}
	})
	t.Run("during login", func(t *testing.T) {
		// The server's answer is held back, so the login is in flight
		// when the caller gives up.
		hold := startTCPHold(t, net.JoinHostPort(host, strconv.Itoa(port)))
		hold.Hold()
		conn := mustConnector(t, &lakebase.Config{Host: hold.Host(), Port: hold.Port(), User: "cancel_user", Password: nativePassword})
		defer conn.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			c, err := conn.Connect(ctx)
			if c != nil {
				c.Close()
			}
			done <- err
		}()
		waitFor(t, 10*time.Second, "the connect reaches the server", func() bool { return hold.Arrived() == 1 })
		cancel()
		select {
		case err := <-done:
			if err != context.Canceled {
				t.Fatalf("Connect = %v, want context.Canceled itself", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Connect still hangs 5s after its context was canceled during the login")
		}
	})
}

func TestConnectReturnsLibPQConnection(t *testing.T) {
	host, port := nativeRole(t, "plain_user", nativePassword)
	conn := mustConnector(t, &lakebase.Config{Host: host, Port: port, User: "plain_user", Password: nativePassword})
	defer conn.Close()
	c, err := conn.Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := fmt.Sprintf("%T", c); got != "*pq.conn" {
		t.Errorf("Connect returned %s, want lib/pq's own *pq.conn", got)
	}
}

func TestOpenReportsDSNErrors(t *testing.T) {
	_, err := sql.Open("lakebase", "instnace=my-db")
	if !errors.Is(err, lakebase.ErrInvalidDSN) || !strings.Contains(err.Error(), "instnace") {
		t.Fatalf("sql.Open = %v, want an ErrInvalidDSN naming instnace", err)
	}
}

func TestClosedConnector(t *testing.T) {
	conn := mustConnector(t, &lakebase.Config{Host: "127.0.0.1", User: "u", Password: "p"})
	if err := conn.Close(); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := conn.Connect(context.Background()); !errors.Is(err, lakebase.ErrConnectorClosed) {
		t.Fatalf("Connect after Close = %v, want ErrConnectorClosed", err)
	}
}

// mustConnector returns a connector for cfg or fails the test.
func mustConnector(t *testing.T, cfg *lakebase.Config) *lakebase.Connector {
	t.Helper()
	if cfg.SSLMode == "" {
		cfg.SSLMode = "require"
	}
	conn, err := lakebase.NewConnector(cfg)
	if err != nil {
		t.Fatalf("NewConnector: %v", err)
	}
	return conn
}

// copyRows is how many rows the bulk loads copy; the table's trigger raises
// a NOTICE every copyNoticeEvery rows, so that the server talks while the
// client writes.
const (
	copyRows        = 100_000
	copyNoticeEvery = 10_000
)

// copyServer is a database of its own on the shared server, owned by a
// native role, for the COPY tests.
type copyServer struct {
	host string
	port int
	db   string
}

// newCopyServer creates the role and database once per test.
func newCopyServer(t *testing.T) copyServer {
	t.Helper()
	host, port := nativeRole(t, "copy_user", nativePassword)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "copy_" + uniqueName("db")[3:]
	if err := testServer(t).CreateDatabase(ctx, name, "copy_user"); err != nil {
		t.Fatal(err)
	}
	return copyServer{host: host, port: port, db: name}
}

// openBoth opens the same session twice, through lib/pq's own connector and
// through lakebase's, each with a notice handler that counts what it gets.
func (s copyServer) openBoth(t *testing.T, sslmode string) map[string]*countedDB {
	t.Helper()
	dsn := fmt.Sprintf("host=%s port=%d user=copy_user password=%s dbname=%s sslmode=%s",
		s.host, s.port, nativePassword, s.db, sslmode)
	pqConn, err := pq.NewConnector(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := lakebase.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	lbConn, err := lakebase.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dbs := map[string]*countedDB{}
	for name, c := range map[string]driver.Connector{"postgres": pqConn, "lakebase": lbConn} {
		cd := &countedDB{}
		cd.DB = sql.OpenDB(pq.ConnectorWithNoticeHandler(c, func(*pq.Error) { cd.notices.Add(1) }))
		t.Cleanup(func() { _ = cd.Close() })
		dbs[name] = cd
	}
	return dbs
}

// countedDB is a sql.DB that counts the notices its sessions receive.
type countedDB struct {
	*sql.DB
	notices atomic.Int64
}

// createCopyTable creates table with a trigger that raises a NOTICE every
// copyNoticeEvery rows.
func createCopyTable(t *testing.T, db *sql.DB, table string) {
	t.Helper()
	_, err := db.Exec(fmt.Sprintf(`
		CREATE TABLE %[1]s (id int PRIMARY KEY, name text NOT NULL);
		CREATE FUNCTION %[1]s_notice() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.id %% %[2]d = 0 THEN RAISE NOTICE 'row %%', NEW.id; END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER %[1]s_notice BEFORE INSERT ON %[1]s FOR EACH ROW EXECUTE FUNCTION %[1]s_notice();`,
		table, copyNoticeEvery))
	if err != nil {
		t.Fatal(err)
	}
}

// withCopy begins a transaction, starts a COPY into table's id and name,
// runs load with both, and ends the copy and commits when load succeeds.
func withCopy(ctx context.Context, db *sql.DB, table string, load func(*sql.Tx, *sql.Stmt) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, pq.CopyIn(table, "id", "name"))
	if err != nil {
		return err
	}
	// lib/pq's COPY goroutine reads until the copy ends: end it before the
	// rollback reads too.
	defer func() { _ = stmt.Close() }()
	if err := load(tx, stmt); err != nil {
		return err
	}
	if err := stmt.Close(); err != nil {
		return err
	}
	return tx.Commit()
}

// copyIn loads rows ids [0, n) into table with pq.CopyIn, within ctx.
func copyIn(ctx context.Context, db *sql.DB, table string, n int) error {
	return withCopy(ctx, db, table, func(_ *sql.Tx, stmt *sql.Stmt) error {
		for i := range n {
			if _, err := stmt.ExecContext(ctx, i, fmt.Sprintf("row %d", i)); err != nil {
				return err
			}
		}
		_, err := stmt.ExecContext(ctx)
		return err
	})
}

// A bulk load with pq.CopyIn, while the server sends notices, in plain text
// and over TLS, goes through lakebase as through lib/pq.
func TestCopyInBulkLoad(t *testing.T) {
	srv := newCopyServer(t)
	for _, sslmode := range []string{"disable", "require"} {
		for name, db := range srv.openBoth(t, sslmode) {
			t.Run(sslmode+"/"+name, func(t *testing.T) {
				table := "bulk_" + name + "_" + sslmode
				createCopyTable(t, db.DB, table)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				if err := copyIn(ctx, db.DB, table, copyRows); err != nil {
					t.Fatalf("COPY of %d rows: %v", copyRows, err)
				}
				var rows int
				if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&rows); err != nil {
					t.Fatal(err)
				}
				if want := int64(copyRows / copyNoticeEvery); rows != copyRows || db.notices.Load() != want {
					t.Errorf("%d rows and %d notices, want %d and %d", rows, db.notices.Load(), copyRows, want)
				}
			})
		}
	}
}

// COPY's error cases give the same errors through lakebase as through
// lib/pq, and leave the pool usable.
func TestCopyInErrorsAsLibPQ(t *testing.T) {
	srv := newCopyServer(t)
	cases := []struct {
		name string
		run  func(ctx context.Context, db *sql.DB, table string) error
	}{
		{"wrong type", func(ctx context.Context, db *sql.DB, table string) error {
			return withCopy(ctx, db, table, func(_ *sql.Tx, stmt *sql.Stmt) error {
				if _, err := stmt.ExecContext(ctx, "not a number", "x"); err != nil {
					return err
				}
				_, err := stmt.ExecContext(ctx)
				return err
			})
		}},
		{"outside a transaction", func(ctx context.Context, db *sql.DB, table string) error {
			_, err := db.PrepareContext(ctx, pq.CopyIn(table, "id", "name"))
			return err
		}},
		{"query during the copy", func(ctx context.Context, db *sql.DB, table string) error {
			return withCopy(ctx, db, table, func(tx *sql.Tx, _ *sql.Stmt) error {
				_, err := tx.ExecContext(ctx, "SELECT 1")
				return err
			})
		}},
		{"duplicate key", func(ctx context.Context, db *sql.DB, table string) error {
			if err := copyIn(ctx, db, table, 10); err != nil {
				return err
			}
			return copyIn(ctx, db, table, 10)
		}},
	}
	for _, sslmode := range []string{"disable", "require"} {
		dbs := srv.openBoth(t, sslmode)
		for _, tc := range cases {
			t.Run(sslmode+"/"+tc.name, func(t *testing.T) {
				errs := map[string]string{}
				for name, db := range dbs {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					table := "copy_err_" + sslmode // the same name, so that the messages compare
					if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+table+"; CREATE TABLE "+table+" (id int PRIMARY KEY, name text)"); err != nil {
						t.Fatal(err)
					}
					err := tc.run(ctx, db.DB, table)
					if err == nil {
						t.Fatalf("%s: no error", name)
					}
					errs[name] = describeError(err)
					if err := db.PingContext(ctx); err != nil {
						t.Errorf("%s: the pool after the error: %v", name, err)
					}
				}
				if errs["lakebase"] != errs["postgres"] {
					t.Errorf("lakebase: %s\nlib/pq:   %s", errs["lakebase"], errs["postgres"])
				}
				t.Logf("both: %s", errs["postgres"])
			})
		}
	}
}

// describeError is err's text with its SQLSTATE, when the server sent one.
func describeError(err error) string {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s (SQLSTATE %s)", err, pe.Code)
	}
	return err.Error()
}
