package integration_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lakebase-go/lakebase"
)

// A pgx pool whose connections retire after a second keeps logging in with
// the connector's current credential while credentials rotate, always as
// the service principal.
func TestPGXPool(t *testing.T) {
	t.Parallel()
	kit := newRotatingKit(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	cfg, err := lakebase.ParseDSN(kit.DSNs().M2M)
	if err != nil {
		t.Fatal(err)
	}
	connector, err := lakebase.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer connector.Close()

	poolCfg, err := lakebasePoolConfig(ctx, connector, "sslmode=verify-full sslrootcert="+quotePGX(kit.CAFile()))
	if err != nil {
		t.Fatal(err)
	}
	poolCfg.MaxConnLifetime = time.Second
	poolCfg.MaxConnLifetimeJitter = 0
	poolCfg.HealthCheckPeriod = 200 * time.Millisecond
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	want := kit.ServicePrincipal.ApplicationID
	calls := runWorkload(t, func(ctx context.Context, _, _ int) error {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("acquire: %w", err)
		}
		defer conn.Release()
		var user string
		if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil {
			return fmt.Errorf("query: %w", err)
		}
		if user != want {
			return fmt.Errorf("current_user %q, want the service principal's application id %q", user, want)
		}
		time.Sleep(10 * time.Millisecond) // hold the connection as real work does
		return nil
	})
	checkRotated(t, kit, calls)
	// Connections live a second: the pool must have replaced them all along.
	if n := pool.Stat().NewConnsCount(); n < int64(workloadDuration/time.Second) {
		t.Errorf("pool opened %d connections in %v; want new ones every second", n, workloadDuration)
	}
	if s := connector.Stats(); s.MintFailures != 0 || s.CredentialsMinted < 2 {
		t.Errorf("connector stats: %d minted, %d mint failures; want at least 2 and none", s.CredentialsMinted, s.MintFailures)
	}
}
