package integration_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// A pgx pool whose connections retire after a second keeps logging in with
// the connector's current credential while credentials rotate, always as
// the service principal.
func TestPGXPool(t *testing.T) {
	t.Parallel()
	kit := newRotatingKit(t)
	connector, pool := newPGXPool(t, kit, func(c *pgxpool.Config) {
		c.MaxConnLifetime = time.Second
		c.MaxConnLifetimeJitter = 0
		c.HealthCheckPeriod = 200 * time.Millisecond
	})

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

// After the credentials are revoked early, the pool's next new connection
// fails with the refused login and tells the connector (Rejected); the one
// after it logs in with a new credential. Sessions already open live on.
func TestPGXPoolCredentialRevoked(t *testing.T) {
	t.Parallel()
	kit := lakebasetest.New(t, lakebasetest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	connector, pool := newPGXPool(t, kit, nil)

	// A session held across the revocation, so that the next Acquire opens
	// a new connection.
	held, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	if err := held.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	mints, gate := kit.Workspace.Mints(), kit.InstanceGateway().Stats()

	// Twice in a row: the second revocation comes at once, and the new
	// credential is replaced again because it had logged in (Accepted).
	for round := 1; round <= 2; round++ {
		kit.RevokeCredentials()
		_, err = pool.Acquire(ctx)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || (pgErr.Code != "28P01" && pgErr.Code != "28000") {
			t.Fatalf("revocation %d: first new connection: %v; want SQLSTATE 28P01 or 28000", round, err)
		}
		conn, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatalf("revocation %d: second new connection: %v", round, err)
		}
		defer conn.Release() // held, so that the next Acquire opens a new connection
		var user string
		if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil || user != kit.ServicePrincipal.ApplicationID {
			t.Errorf("revocation %d: current_user = %q, %v; want the service principal", round, user, err)
		}
	}
	if err := held.Ping(ctx); err != nil {
		t.Errorf("the session opened before the revocations: %v", err)
	}

	if n := kit.Workspace.Mints() - mints; n != 2 {
		t.Errorf("%d credentials minted after the revocations, want 2", n)
	}
	after := kit.InstanceGateway().Stats()
	if r, a := after.Rejected-gate.Rejected, after.Accepted-gate.Accepted; r != 2 || a != 2 {
		t.Errorf("gateway: %d logins rejected, %d accepted; want 2 and 2", r, a)
	}
	if s := connector.Stats(); s.CredentialsMinted != 3 || s.LoginRetries != 0 {
		t.Errorf("connector stats: %d minted, %d login retries; want 3 and 0", s.CredentialsMinted, s.LoginRetries)
	}
}

// newPGXPool opens a pgx pool that takes its credentials from a connector of
// the kit's service principal, with adjust (if any) applied to its
// configuration. Both close when the test ends.
func newPGXPool(t *testing.T, kit *lakebasetest.Kit, adjust func(*pgxpool.Config)) (*lakebase.Connector, *pgxpool.Pool) {
	t.Helper()
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
	t.Cleanup(func() { _ = connector.Close() })
	poolCfg, err := lakebasePoolConfig(ctx, connector, "sslmode=verify-full sslrootcert="+quotePGX(kit.CAFile()))
	if err != nil {
		t.Fatal(err)
	}
	if adjust != nil {
		adjust(poolCfg)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), poolCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return connector, pool
}
