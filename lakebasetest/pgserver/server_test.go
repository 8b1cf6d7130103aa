package pgserver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lakebase-go/lakebase/internal/testenv"
)

// existingServer starts a throwaway server and, on it, a Postgres used as
// an existing server named by URL; both stop when the test ends.
func existingServer(t *testing.T) (server, existing *Server) {
	t.Helper()
	server = New(t)
	existing, err := Start(context.Background(), Options{URL: server.SuperuserDSN()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { existing.Stop() })
	return server, existing
}

func TestPostgresNativeLoginOverTLS(t *testing.T) {
	t.Parallel()
	p := New(t)
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
			db := testenv.OpenPQ(t, testenv.TCPDSN("127.0.0.1", p.Port(), p.CAFile(), tt.role, "native secret 'x'", DefaultDatabase))
			var user, database string
			var ssl bool
			err := db.QueryRow(`SELECT current_user, current_database(), ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`).Scan(&user, &database, &ssl)
			if err != nil {
				t.Fatal(err)
			}
			if user != tt.role || database != DefaultDatabase || !ssl {
				t.Fatalf("session = %q in %q (ssl %v), want %q in %q over TLS", user, database, ssl, tt.role, DefaultDatabase)
			}

			wrong := testenv.OpenPQ(t, testenv.TCPDSN("localhost", p.Port(), p.CAFile(), tt.role, "wrong", DefaultDatabase))
			testenv.WantSQLState(t, wrong.Ping(), "28P01")
		})
	}
}

func TestPostgresIdentityRoleHasNoTCPLogin(t *testing.T) {
	t.Parallel()
	p := New(t)
	const role = "svc-principal-0001"
	if err := p.CreateRole(context.Background(), role, ""); err != nil {
		t.Fatal(err)
	}
	db := testenv.OpenPQ(t, testenv.TCPDSN("127.0.0.1", p.Port(), p.CAFile(), role, "anything", DefaultDatabase))
	testenv.WantSQLState(t, db.Ping(), "28P01")
}

func TestPostgresSuperuserAndDatabases(t *testing.T) {
	t.Parallel()
	p := New(t)
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

	admin := testenv.OpenPQ(t, p.SuperuserDSN())
	var owner string
	err := admin.QueryRow(`SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app db'`).Scan(&owner)
	if err != nil {
		t.Fatal(err)
	}
	if owner != "owner@example.com" {
		t.Fatalf("owner = %q", owner)
	}

	// Every role may create tables in public, in the new database too.
	db := testenv.OpenPQ(t, testenv.TCPDSN("127.0.0.1", p.Port(), p.CAFile(), "owner@example.com", "pw2", "app db"))
	if _, err := db.Exec(`CREATE TABLE t (id int)`); err != nil {
		t.Fatal(err)
	}
	if err := p.CreateDatabase(ctx, "app db", ""); err == nil {
		t.Fatal("creating a database twice succeeded")
	}
}

func TestPostgresStopRemovesEverything(t *testing.T) {
	t.Parallel()
	p := New(t)
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
	db := testenv.OpenPQ(t, p.SuperuserDSN())
	if err := db.Ping(); err == nil {
		t.Fatal("server still answers after Stop")
	}
}

func TestFindBinDirMissing(t *testing.T) {
	t.Parallel()
	_, err := serverBinaries(context.Background(), Options{BinDir: t.TempDir()})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("error = %v, want ErrNotFound", err)
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

	first := New(t) // makes the template and caches it
	cached, _ := filepath.Glob(filepath.Join(root, "lakebasetest", "pgdata-*"))
	if len(cached) != 1 {
		t.Fatalf("cached templates: %v, want one", cached)
	}
	second := New(t) // copies it
	for _, p := range []*Server{first, second} {
		if err := testenv.OpenPQ(t, p.SuperuserDSN()).Ping(); err != nil {
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
	// The identity logs in as a gateway would: over the trusted socket,
	// since this process runs the server, and, as another process sharing
	// the server's URL does, with its internal password over TCP.
	cfg := p.ConnConfig(identity, "")
	if cfg.Password != "" || !strings.HasPrefix(cfg.Host, "/") {
		t.Errorf("ConnConfig: host %s, password set %t; want the trusted socket", cfg.Host, cfg.Password != "")
	}
	internal := p.nativeConfig(identity, p.internalPassword(identity))
	internal.Database = "scratch"
	check, err := pgconn.ConnectConfig(ctx, internal)
	if err != nil {
		t.Fatalf("the internal password over TCP: %v", err)
	}
	check.Close(ctx)
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
	if err := testenv.OpenPQ(t, server.SuperuserDSN()).QueryRow(`SELECT count(*) FROM pg_database WHERE datname = 'scratch'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("databases named scratch after Stop: %d, %v", n, err)
	}
}

func BenchmarkPostgresStartStop(b *testing.B) {
	for b.Loop() {
		p, err := Start(context.Background(), Options{})
		if errors.Is(err, ErrNotFound) {
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
