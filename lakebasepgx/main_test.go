package lakebasepgx_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/internal/leakcheck"
	"github.com/lakebase-go/lakebase/lakebasepgx"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

func TestMain(m *testing.M) { leakcheck.Main(m, shared.Close) }

// shared is the kit of the tests that change nothing other tests see: they
// add identities, instances and endpoints of their own. Tests that revoke
// credentials or shorten their lifetime start a kit of their own.
var shared lakebasetest.Shared

// testContext returns a context that ends after d or with the test.
func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// newServicePrincipal registers a service principal of the test's own, so
// that its mints are counted apart from other tests'.
func newServicePrincipal(t *testing.T, kit *lakebasetest.Kit) lakebasetest.ServicePrincipal {
	t.Helper()
	sp := lakebasetest.ServicePrincipal{ApplicationID: uuid.NewString(), Secret: "secret-" + uuid.NewString()}
	if err := kit.AddServicePrincipal(context.Background(), sp); err != nil {
		t.Fatal(err)
	}
	return sp
}

// uniqueName returns a name no other test uses.
func uniqueName(prefix string) string { return prefix + "-" + uuid.NewString()[:8] }

// m2mDSN is a lakebase DSN that logs in to target ("instance=..." or
// "endpoint=...") as sp, verifying the kit's certificates, plus extra keys.
func m2mDSN(kit *lakebasetest.Kit, sp lakebasetest.ServicePrincipal, target, extra string) string {
	return fmt.Sprintf("%s workspace=%s auth=oauth-m2m client_id=%s client_secret=%s sslmode=verify-full sslrootcert=%s %s",
		target, quote(kit.Workspace.URL()), quote(sp.ApplicationID), quote(sp.Secret), quote(kit.Postgres.CAFile()), extra)
}

// quote quotes a key/value DSN value.
func quote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// newPool opens a pool for dsn that closes when the test ends.
func newPool(t *testing.T, dsn string) *lakebasepgx.Pool {
	t.Helper()
	pool, err := lakebasepgx.NewPool(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// acquire takes a connection from pool that is released when the test ends.
func acquire(t *testing.T, ctx context.Context, pool *lakebasepgx.Pool) *pgxpool.Conn {
	t.Helper()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	t.Cleanup(conn.Release)
	return conn
}

// currentUser runs SELECT current_user on a connection of pool.
func currentUser(ctx context.Context, pool *lakebasepgx.Pool) (string, error) {
	var user string
	err := pool.QueryRow(ctx, "SELECT current_user").Scan(&user)
	return user, err
}

// addInstance registers an instance of the test's own, with a read-only host
// when readOnly, and returns its name and its gateways (ro is nil without).
func addInstance(t *testing.T, kit *lakebasetest.Kit, readOnly bool) (name string, rw, ro *lakebasetest.Gateway) {
	t.Helper()
	name = uniqueName("inst")
	rw, err := kit.AddInstance(lakebasetest.InstanceOptions{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if readOnly {
		if ro, err = kit.StartFailoverGateway(name); err != nil {
			t.Fatal(err)
		}
		if err := kit.Workspace.UpdateInstance(name, func(i *lakebasetest.Instance) { i.ReadWriteHost, i.ReadOnlyHost = rw.Addr(), ro.Addr() }); err != nil {
			t.Fatal(err)
		}
	}
	return name, rw, ro
}

// newPoolWithConfig opens a pool for dsn with poolCfg's pgx settings; it
// closes when the test ends.
func newPoolWithConfig(t *testing.T, dsn string, poolCfg *pgxpool.Config) *lakebasepgx.Pool {
	t.Helper()
	cfg, err := lakebase.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := lakebasepgx.NewPoolWithConfig(context.Background(), cfg, poolCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// configuredPool configures poolCfg for connector, a context that ends
// sending a cancel request (pgx's default sets a deadline on the connection
// instead), and opens its pool, closed when the test ends (before the
// connector, whose cleanup the caller registered first).
func configuredPool(t *testing.T, poolCfg *pgxpool.Config, connector *lakebase.Connector) *pgxpool.Pool {
	t.Helper()
	poolCfg.ConnConfig.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: 20 * time.Second}
	}
	if err := lakebasepgx.Configure(poolCfg, connector); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), poolCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}
