package lakebasetest

import (
	"context"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/internal/testenv"
	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
)

// pooledGateway starts a gateway for target in front of a PgBouncer of its
// own in front of w's server, both closed when the test ends, with poolSize
// server connections per role.
func (w *gatewayWorld) pooledGateway(t *testing.T, target string, poolSize int) *Gateway {
	t.Helper()
	b, err := w.pg.StartPgBouncer(context.Background(), poolSize)
	testenv.Require(t, err)
	t.Cleanup(func() {
		if err := b.Stop(); err != nil {
			t.Error(err)
		}
	})
	g, err := newGateway(gatewayOptions{
		Target: target, Store: w.store, Server: w.pg, NativeLogin: true,
		Pooler: func(context.Context) (*pgserver.PgBouncer, error) { return b, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// The pooled gateway checks credentials as the others do, and its sessions
// run through PgBouncer in transaction mode: one server connection serves
// the transactions of many clients, and a session's state does not follow
// it from one transaction to the next.
func TestPgBouncerGateway(t *testing.T) {
	t.Parallel()
	for _, server := range []struct {
		name  string
		start func(t *testing.T) *pgserver.Server
	}{
		{"throwaway", func(t *testing.T) *pgserver.Server { return pgserver.New(t) }},
		{"existing", existingServer},
	} {
		t.Run(server.name, func(t *testing.T) {
			t.Parallel()
			w := newGatewayWorldOn(t, server.start(t))
			g := w.pooledGateway(t, epTarget, 1)

			alices := testenv.OpenPQ(t, w.dsn(g, alice, w.mint(alice, epTarget, time.Hour)))
			if got := queryString(t, alices, "SELECT current_user"); got != alice {
				t.Fatalf("current_user = %q, want %q", got, alice)
			}
			if err := testenv.OpenPQ(t, w.dsn(g, nativeRole, nativePassword)).Ping(); err != nil {
				t.Fatalf("native login: %v", err)
			}
			// PgBouncer holds a server connection for the role now: the
			// gateway must still refuse a wrong password.
			wantWrongPassword(t, testenv.OpenPQ(t, w.dsn(g, nativeRole, "guess")).Ping(), nativeRole)
			wantWrongPassword(t, testenv.OpenPQ(t, w.dsn(g, alice, w.mint(alice, epTarget, -time.Second))).Ping(), alice)
			wantWrongPassword(t, testenv.OpenPQ(t, w.dsn(g, alice, w.mint(bob, epTarget, time.Hour))).Ping(), alice)
			wantWrongPassword(t, testenv.OpenPQ(t, w.dsn(g, alice, w.mint(alice, db1Target, time.Hour))).Ping(), alice)

			// Two clients, one server connection: each sees the same
			// backend, and a SET of one shows in the other's session.
			first, second := testenv.OpenPQ(t, w.dsn(g, alice, w.mint(alice, epTarget, time.Hour))), alices
			first.SetMaxOpenConns(1)
			second.SetMaxOpenConns(1)
			if _, err := first.Exec("SET lakebasetest.marker = 'first'"); err != nil {
				t.Fatal(err)
			}
			if p1, p2 := queryString(t, first, "SELECT pg_backend_pid()::text"), queryString(t, second, "SELECT pg_backend_pid()::text"); p1 != p2 {
				t.Fatalf("backend pids %s and %s: want one server connection for both clients", p1, p2)
			}
			if got := queryString(t, second, "SELECT current_setting('lakebasetest.marker')"); got != "first" {
				t.Fatalf("a setting of the other client = %q in this one's transaction, want %q (transaction mode)", got, "first")
			}
		})
	}
}
