package lakebasetest

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/internal/testenv"
	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
)

// BenchmarkGateway compares round trips and logins through a gateway with
// the same done directly against the server, over TLS and without.
func BenchmarkGateway(b *testing.B) {
	pg := pgserver.New(b)
	g, token := benchGateway(b, pg)

	for _, sslmode := range []string{"verify-full", "disable"} {
		targets := []struct{ name, dsn string }{
			{"direct", testenv.TCPDSN("localhost", pg.Port(), pg.CAFile(), nativeRole, nativePassword, pgserver.DefaultDatabase)},
			{"gateway-native", testenv.TCPDSN("localhost", g.Port(), pg.CAFile(), nativeRole, nativePassword, pgserver.DefaultDatabase)},
			{"gateway-credential", testenv.TCPDSN("localhost", g.Port(), pg.CAFile(), alice, token, pgserver.DefaultDatabase)},
		}
		for _, tg := range targets {
			dsn := tg.dsn + " sslmode=" + sslmode
			for _, q := range []struct{ name, sql string }{{"query", "SELECT 1"}, {"rows", "SELECT repeat('x', 1000000)"}} {
				b.Run(q.name+"/"+tg.name+"/"+sslmode, func(b *testing.B) {
					db, err := sql.Open("postgres", dsn)
					if err != nil {
						b.Fatal(err)
					}
					defer db.Close()
					db.SetMaxOpenConns(1)
					var row string
					for b.Loop() {
						if err := db.QueryRow(q.sql).Scan(&row); err != nil {
							b.Fatal(err)
						}
					}
					b.SetBytes(int64(len(row)))
				})
			}
			b.Run("login/"+tg.name+"/"+sslmode, func(b *testing.B) { benchLogins(b, dsn) })
		}
	}
}

// benchGateway starts a gateway with native login in front of pg, closed
// when the benchmark ends, with the roles nativeRole and alice; token is a
// credential of alice's.
func benchGateway(b *testing.B, pg *pgserver.Server) (g *Gateway, token string) {
	b.Helper()
	ctx := context.Background()
	if err := pg.CreateRole(ctx, nativeRole, nativePassword); err != nil {
		b.Fatal(err)
	}
	if err := pg.CreateRole(ctx, alice, ""); err != nil {
		b.Fatal(err)
	}
	store := newCredentialStore(nil)
	g, err := newGateway(gatewayOptions{Target: db1Target, Store: store, Server: pg, NativeLogin: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	return g, store.issue(alice, db1Target, time.Hour, nil).token
}

// benchLogins logs in with dsn and out again, b.N times.
func benchLogins(b *testing.B, dsn string) {
	for b.Loop() {
		db, err := sql.Open("postgres", dsn)
		if err != nil {
			b.Fatal(err)
		}
		if err := db.Ping(); err != nil {
			b.Fatal(err)
		}
		db.Close()
	}
}
