package lakebasetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lib/pq"
)

// openPQ opens a lib/pq pool of one connection; the test closes it.
func openPQ(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// openSession opens one session on dsn, closed when the test ends.
func openSession(t *testing.T, dsn string) *sql.Conn {
	t.Helper()
	conn, err := openPQ(t, dsn).Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// existingServer starts a throwaway server and, on it, a Postgres used as
// an existing server named by URL; both stop when the test ends.
func existingServer(t *testing.T) (server, existing *Postgres) {
	t.Helper()
	server = NewPostgres(t)
	existing, err := StartPostgres(context.Background(), PostgresOptions{URL: server.SuperuserDSN()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { existing.Stop() })
	return server, existing
}

// tcpDSN is a lib/pq DSN for role over TCP, verifying the kit's certificate.
func tcpDSN(host string, port int, caFile, role, password, dbname string) string {
	return fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=verify-full sslrootcert=%s connect_timeout=10",
		dsnValue(host), port, dsnValue(role), dsnValue(password), dsnValue(dbname), dsnValue(caFile))
}

// wantSQLState fails t unless err is a lib/pq error with code.
func wantSQLState(t *testing.T, err error, code string) {
	t.Helper()
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) {
		t.Fatalf("error = %v, want a PostgreSQL error %s", err, code)
	}
	if string(pqErr.Code) != code {
		t.Fatalf("SQLSTATE = %s (%s), want %s", pqErr.Code, pqErr.Message, code)
	}
}

func TestPostgresNativeLoginOverTLS(t *testing.T) {
	t.Parallel()
	p := NewPostgres(t)
	ctx := context.Background()

	tests := []struct{ name, role string }{
		{"e-mail", "alice@example.com"},
		{"uuid", "6f1c2d3e-8a9b-4c0d-9e8f-7a6b5c4d3e2f"},
		{"quotes", `o"brien's role`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := p.CreateRole(ctx, tt.role, "native secret 'x'"); err != nil {
				t.Fatal(err)
			}
			db := openPQ(t, tcpDSN("127.0.0.1", p.Port(), p.CAFile(), tt.role, "native secret 'x'", DefaultDatabase))
			var user, database string
			var ssl bool
			err := db.QueryRow(`SELECT current_user, current_database(), ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`).Scan(&user, &database, &ssl)
			if err != nil {
				t.Fatal(err)
			}
			if user != tt.role || database != DefaultDatabase || !ssl {
				t.Fatalf("session = %q in %q (ssl %v), want %q in %q over TLS", user, database, ssl, tt.role, DefaultDatabase)
			}

			wrong := openPQ(t, tcpDSN("localhost", p.Port(), p.CAFile(), tt.role, "wrong", DefaultDatabase))
			wantSQLState(t, wrong.Ping(), "28P01")
		})
	}
}

func TestPostgresIdentityRoleHasNoTCPLogin(t *testing.T) {
	t.Parallel()
	p := NewPostgres(t)
	const role = "svc-principal-0001"
	if err := p.CreateRole(context.Background(), role, ""); err != nil {
		t.Fatal(err)
	}
	db := openPQ(t, tcpDSN("127.0.0.1", p.Port(), p.CAFile(), role, "anything", DefaultDatabase))
	wantSQLState(t, db.Ping(), "28P01")
}

func TestPostgresSuperuserAndDatabases(t *testing.T) {
	t.Parallel()
	p := NewPostgres(t)
	ctx := context.Background()
	if err := p.CreateRole(ctx, "owner@example.com", "pw"); err != nil {
		t.Fatal(err)
	}
	// Creating a role again resets its password.
	if err := p.CreateRole(ctx, "owner@example.com", "pw2"); err != nil {
		t.Fatal(err)
	}
	if err := p.CreateDatabase(ctx, "app db", "owner@example.com"); err != nil {
		t.Fatal(err)
	}

	admin := openPQ(t, p.SuperuserDSN())
	var owner string
	err := admin.QueryRow(`SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app db'`).Scan(&owner)
	if err != nil {
		t.Fatal(err)
	}
	if owner != "owner@example.com" {
		t.Fatalf("owner = %q", owner)
	}

	// Every role may create tables in public, in the new database too.
	db := openPQ(t, tcpDSN("127.0.0.1", p.Port(), p.CAFile(), "owner@example.com", "pw2", "app db"))
	if _, err := db.Exec(`CREATE TABLE t (id int)`); err != nil {
		t.Fatal(err)
	}
	if err := p.CreateDatabase(ctx, "app db", ""); err == nil {
		t.Fatal("creating a database twice succeeded")
	}
}

func TestPostgresStopRemovesEverything(t *testing.T) {
	t.Parallel()
	p := NewPostgres(t)
	dir := filepath.Dir(p.CAFile())
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("directory after Stop: %v", err)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	db := openPQ(t, p.SuperuserDSN())
	if err := db.Ping(); err == nil {
		t.Fatal("server still answers after Stop")
	}
}

func TestFindBinDirMissing(t *testing.T) {
	t.Parallel()
	_, err := serverBinaries(context.Background(), PostgresOptions{BinDir: t.TempDir()})
	if !errors.Is(err, ErrPostgresNotFound) {
		t.Fatalf("error = %v, want ErrPostgresNotFound", err)
	}
}

func TestWithDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"postgres://u:p@db.example:5432/postgres?sslmode=require", "postgres://u:p@db.example:5432/databricks_postgres?sslmode=require"},
		{"postgresql://u@db.example", "postgresql://u@db.example/databricks_postgres"},
		{"host=db.example user=u", "host=db.example user=u dbname='databricks_postgres'"},
	}
	for _, tt := range tests {
		got, err := withDatabase(tt.in, DefaultDatabase)
		if err != nil || got != tt.want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestPostgresTemplateCache(t *testing.T) {
	// Downloaded binaries, if the kit needs them, stay where they are.
	if d, err := (DownloadOptions{}).withDefaults(); err == nil {
		t.Setenv(postgresCacheEnv, d.CacheDir)
	}
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache) // os.UserCacheDir on Linux
	t.Setenv("HOME", cache)           // elsewhere

	root, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}

	first := NewPostgres(t) // makes the template and caches it
	cached, _ := filepath.Glob(filepath.Join(root, "lakebasetest", "pgdata-*"))
	if len(cached) != 1 {
		t.Fatalf("cached templates: %v, want one", cached)
	}
	second := NewPostgres(t) // copies it
	for _, p := range []*Postgres{first, second} {
		if err := openPQ(t, p.SuperuserDSN()).Ping(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPostgresExistingServer(t *testing.T) {
	t.Parallel()
	server, p := existingServer(t)
	ctx := context.Background()

	if p.Host() != "127.0.0.1" || p.Port() != server.Port() {
		t.Fatalf("address = %s:%d, want the server's", p.Host(), p.Port())
	}
	const identity = "bob@example.com"
	if err := p.CreateRole(ctx, identity, ""); err != nil {
		t.Fatal(err)
	}
	if err := p.CreateRole(ctx, identity, ""); err != nil {
		t.Fatalf("creating a role twice: %v", err)
	}
	if err := p.CreateDatabase(ctx, "scratch", identity); err != nil {
		t.Fatal(err)
	}
	// The identity logs in with its internal password, as a gateway would.
	cfg := p.identityConfig(identity)
	cfg.Database = "scratch"
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := conn.Exec(ctx, "SELECT current_user").ReadAll()
	conn.Close(ctx)
	if err != nil || string(res[0].Rows[0][0]) != identity {
		t.Fatalf("current_user: %v, %v", res, err)
	}

	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := openPQ(t, server.SuperuserDSN()).QueryRow(`SELECT count(*) FROM pg_database WHERE datname = 'scratch'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("databases named scratch after Stop: %d, %v", n, err)
	}
}

func BenchmarkPostgresStartStop(b *testing.B) {
	for b.Loop() {
		p, err := StartPostgres(context.Background(), PostgresOptions{})
		if errors.Is(err, ErrPostgresNotFound) {
			b.Skip(err)
		}
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Stop(); err != nil {
			b.Fatal(err)
		}
	}
}
