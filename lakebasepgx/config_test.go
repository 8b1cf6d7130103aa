package lakebasepgx_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasepgx"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"go.uber.org/goleak"
)

// Bad input fails with an error that names the key or the step, before
// anything is looked up or minted.
func TestBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		dsn   string
		want  string // in the error
		atNew bool   // NewPool fails; otherwise the first Acquire does
	}{
		{"near miss of a lakebase key", "instnace=x auth=oauth-m2m client_id=a client_secret=b", "instnace", true},
		{"pool key pgxpool refuses", "instance=x auth=oauth-m2m client_id=a client_secret=b pool_max_conns=many", "pool_max_conns", true},
		{"sslmode whose TLS lib/pq runs", "host=127.0.0.1 port=1 user=u password=p sslmode=prefer", "sslmode", false},
		{"nothing listening", "host=127.0.0.1 port=1 user=u password=secret-password sslmode=disable", "dial", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t, 30*time.Second)
			pool, err := lakebasepgx.NewPool(ctx, tt.dsn)
			if err == nil {
				defer pool.Close()
				if tt.atNew {
					t.Fatal("NewPool succeeded")
				}
				_, err = pool.Acquire(ctx)
			} else if !tt.atNew {
				t.Fatalf("NewPool: %v", err)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v; want one naming %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret-password") {
				t.Errorf("the error shows the password: %v", err)
			}
			if tt.atNew && !errors.Is(err, lakebase.ErrInvalidDSN) {
				t.Errorf("error %v does not wrap lakebase.ErrInvalidDSN", err)
			}
		})
	}
	poolCfg, err := pgxpool.ParseConfig("")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &lakebase.Config{Host: "127.0.0.1", User: "u", Password: "p", Params: map[string]string{"pool_max_conns": "4"}}
	if _, err := lakebasepgx.NewPoolWithConfig(context.Background(), cfg, poolCfg); !errors.Is(err, lakebase.ErrInvalidDSN) || !strings.Contains(err.Error(), "pool_max_conns") {
		t.Errorf("a pool_ key next to a pgxpool.Config = %v; want ErrInvalidDSN naming pool_max_conns", err)
	}
	if err := lakebasepgx.Configure(nil, nil); err == nil {
		t.Error("Configure(nil, nil) succeeded")
	}
}

// An identity without a Postgres role is refused whatever its credential:
// the Acquire fails with the server's 28000 (or 28P01), naming the login step and the
// user, never the credential, and a burst of Acquires costs a mint per
// backoff, not one per connection.
func TestRefusedIdentity(t *testing.T) {
	t.Parallel()
	kit := shared.Kit(t)
	sp := lakebasetest.ServicePrincipal{ApplicationID: uniqueName("no-role"), Secret: "secret-" + uniqueName("s")}
	if err := kit.Workspace.AddServicePrincipal(sp); err != nil { // registered, but no role
		t.Fatal(err)
	}
	pool := newPool(t, m2mDSN(kit, sp, "instance="+lakebasetest.DefaultInstance, ""))
	ctx := testContext(t, time.Minute)
	start := time.Now()
	for range 10 {
		_, err := pool.Acquire(ctx)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || (pgErr.Code != "28P01" && pgErr.Code != "28000") {
			t.Fatalf("acquire as an identity without a role: %v; want SQLSTATE 28P01 or 28000", err)
		}
		if msg := err.Error(); !strings.Contains(msg, "lakebase: login") || !strings.Contains(msg, sp.ApplicationID) {
			t.Errorf("error %q does not name the login step and the user", msg)
		}
		tok, _ := pool.Connector().Credential(ctx)
		if tok.Value != "" && strings.Contains(err.Error(), tok.Value) {
			t.Fatal("the error shows the credential")
		}
	}
	// A refused credential that never logged in is dropped once, then once
	// per backoff, which doubles from 1 s with up to half taken off (so it
	// ends after 0.5 s at the soonest, then 1 s more, 2 s more...): a loaded
	// machine that takes longer over the ten Acquires sees more backoffs end.
	elapsed, most := time.Since(start), 2
	for wait, ended := time.Second/2, time.Second/2; ended <= elapsed; wait, ended = 2*wait, ended+2*wait {
		most++
	}
	if n := kit.Workspace.MintsFor(sp.ApplicationID); n > most {
		t.Errorf("%d credentials minted for 10 refused connections in %s; want at most %d (one per backoff)", n, elapsed, most)
	}
}

// Configure keeps a pgxpool.Config's own hooks and settings: its
// BeforeConnect and AfterConnect run, its run-time parameters reach the
// server next to the DSN's, and a query cancelled by its context is
// cancelled on the server through the session's cancel request, leaving
// the connection usable.
func TestConfigureKeepsPoolSettings(t *testing.T) {
	t.Parallel()
	kit := shared.Kit(t)
	sp := newServicePrincipal(t, kit)
	cfg, err := lakebase.ParseDSN(m2mDSN(kit, sp, "instance="+lakebasetest.DefaultInstance, "application_name=from-dsn"))
	if err != nil {
		t.Fatal(err)
	}
	connector, err := lakebase.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { connector.Close() })
	poolCfg, err := pgxpool.ParseConfig("pool_max_conns=1 search_path=from_pgx")
	if err != nil {
		t.Fatal(err)
	}
	var before, after atomic.Int32
	poolCfg.BeforeConnect = func(context.Context, *pgx.ConnConfig) error { before.Add(1); return nil }
	poolCfg.AfterConnect = func(context.Context, *pgx.Conn) error { after.Add(1); return nil }
	pool := configuredPool(t, poolCfg, connector)
	ctx := testContext(t, time.Minute)

	var app, path string
	if err := pool.QueryRow(ctx, "SELECT current_setting('application_name'), current_setting('search_path')").Scan(&app, &path); err != nil {
		t.Fatal(err)
	}
	if app != "from-dsn" || path != "from_pgx" {
		t.Errorf("application_name %q, search_path %q; want from-dsn and from_pgx", app, path)
	}
	// The session under pgx prints without the credential.
	tok, err := connector.Credential(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := pool.AcquireFunc(ctx, func(c *pgxpool.Conn) error {
		if s := fmt.Sprintf("%+v %#v", c.Conn().PgConn().Conn(), c.Conn().Config()); strings.Contains(s, tok.Value) {
			return errors.New("the connection prints its credential")
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	if before.Load() != 1 || after.Load() != 1 {
		t.Errorf("BeforeConnect ran %d times, AfterConnect %d; want 1 and 1", before.Load(), after.Load())
	}

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = pool.Exec(short, "SELECT pg_sleep(15)")
	if err == nil {
		t.Fatal("pg_sleep(15) ended before its context")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the cancelled query took %v: the cancel request did not reach the server", took)
	}
	var one int
	if err := pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Errorf("the connection after the cancel: %v", err)
	}
	if n := pool.Stat().NewConnsCount(); n != 1 {
		t.Errorf("%d connections opened; want 1, kept across the cancel", n)
	}
}

// Close stops every goroutine the pool and its connector started, the
// Databricks SDK's and the connections to the workspace included (the
// connector's workspace client has a transport of its own, which Close
// closes), while the kit's workspace keeps running.
func TestCloseStopsGoroutines(t *testing.T) {
	// Not parallel: it counts every goroutine of the process.
	kit := shared.Kit(t)
	sp := newServicePrincipal(t, kit)
	ignore := goleak.IgnoreCurrent()
	pool, err := lakebasepgx.NewPool(context.Background(), m2mDSN(kit, sp, "instance="+lakebasetest.DefaultInstance, "pool_max_conns=4 pool_min_conns=2"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t, time.Minute)
	for i := range 8 {
		if _, err := pool.Exec(ctx, "SELECT $1::int", i); err != nil {
			t.Fatal(err)
		}
	}
	pool.Close()
	// The kit's side of the closed connections ends a moment later, later
	// still on a loaded machine.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := goleak.Find(ignore)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A Login prints without its credential.
func TestLoginRedacted(t *testing.T) {
	t.Parallel()
	l := lakebase.Login{Host: "h", Port: 5432, User: "u", Database: "d", Credential: lakebase.Token{Value: "secret-token"}}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(format, l); strings.Contains(s, "secret-token") {
			t.Errorf("%s shows the credential: %s", format, s)
		}
	}
}

// A Login made by hand, not by Open, has no TLS settings and cannot dial:
// it would otherwise connect in plain text.
func TestHandMadeLoginCannotDial(t *testing.T) {
	t.Parallel()
	l := lakebase.Login{Host: "127.0.0.1", Port: 1}
	if conn, err := l.Dial(context.Background(), "tcp", "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "Open") {
		if conn != nil {
			_ = conn.Close()
		}
		t.Fatalf("Dial of a hand-made Login = %v; want an error naming Open", err)
	}
	// Nor over a transport of the caller's, which is never dialled.
	dialled := false
	pipe := func(context.Context, string, string) (net.Conn, error) {
		dialled = true
		client, server := net.Pipe()
		_ = server.Close()
		return client, nil
	}
	if conn, err := l.DialWith(context.Background(), pipe, "tcp", "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "Open") || dialled {
		if conn != nil {
			_ = conn.Close()
		}
		t.Fatalf("DialWith of a hand-made Login = %v (dialled: %t); want an error naming Open, before any dial", err, dialled)
	}
}
