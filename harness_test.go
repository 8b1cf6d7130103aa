package lakebase_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/internal/leakcheck"
	"github.com/lakebase-go/lakebase/internal/testenv"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
	_ "github.com/lib/pq" // the superuser's view of the server
)

// The harness of this package's tests: one PostgreSQL server for the whole
// test binary, and every kit of the package on it.
//
// The server is a throwaway cluster started by the first test that needs
// it. Kits use it as an existing server (lakebasetest.Options.Postgres.URL),
// each with a native role of its own. The shared kit serves the tests that
// change nothing others see; the fault kit is taken in turn by the tests
// that set faults, latencies or lifetimes (newFaultEnv); a test that needs a
// whole workspace to itself starts one with newKit. The restart tests
// (fault_postgres_test.go) restart this server: they are not parallel, so
// they run while no other test does (parallel tests start only once every
// sequential one has ended).

func TestMain(m *testing.M) {
	leakcheck.Main(m, kits.shared.close, kits.fault.close, server.close)
}

// lazy is a value of the test binary started by the first test that asks
// for it and closed by TestMain.
type lazy[T comparable] struct {
	once  sync.Once
	value T
	err   error
	stop  func(T) error
}

// get returns the value, starting it with start on first use. When it
// cannot start, it ends t as testenv.Require does: without PostgreSQL
// it skips, except under CI.
func (l *lazy[T]) get(t testing.TB, start func(context.Context) (T, error)) T {
	t.Helper()
	l.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		l.value, l.err = start(ctx)
	})
	testenv.Require(t, l.err)
	return l.value
}

// close stops the value if it was started.
func (l *lazy[T]) close() error {
	var zero T
	if l.value == zero || l.stop == nil {
		return nil
	}
	return l.stop(l.value)
}

// server is the test binary's one PostgreSQL server.
var server = lazy[*pgserver.Server]{stop: (*pgserver.Server).Stop}

// testServer returns the shared server.
func testServer(t testing.TB) *pgserver.Server {
	t.Helper()
	return server.get(t, func(ctx context.Context) (*pgserver.Server, error) {
		return pgserver.Start(ctx, pgserver.Options{})
	})
}

// kits are the kits shared by several tests.
var kits = struct {
	shared, fault lazy[*lakebasetest.Kit]
}{
	shared: lazy[*lakebasetest.Kit]{stop: (*lakebasetest.Kit).Close},
	fault:  lazy[*lakebasetest.Kit]{stop: (*lakebasetest.Kit).Close},
}

// sharedKit returns the kit shared by this package's tests. Tests that use
// it change nothing that other tests see: they add identities, instances and
// endpoints of their own, and never set faults, latencies or lifetimes, nor
// revoke credentials. Tests that need those use newFaultEnv or newKit.
func sharedKit(t testing.TB) *lakebasetest.Kit {
	t.Helper()
	srv := testServer(t)
	return kits.shared.get(t, func(ctx context.Context) (*lakebasetest.Kit, error) {
		return startKit(ctx, srv, lakebasetest.Options{})
	})
}

// newKit starts a kit of the test's own on the shared server, closed when
// the test ends.
func newKit(t testing.TB, opts lakebasetest.Options) *lakebasetest.Kit {
	t.Helper()
	srv := testServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	k, err := startKit(ctx, srv, opts)
	testenv.Require(t, err)
	t.Cleanup(func() {
		if err := k.Close(); err != nil {
			t.Error(err)
		}
	})
	return k
}

// startKit starts a kit on srv. Each kit on a shared server has a native
// role of its own (see lakebasetest.Kit.NativeRole), so one kit's start
// cannot break another's native logins.
func startKit(ctx context.Context, srv *pgserver.Server, opts lakebasetest.Options) (*lakebasetest.Kit, error) {
	opts.Postgres.URL = srv.SuperuserDSN()
	return lakebasetest.Start(ctx, opts)
}

// timeScaleEnv names the environment variable that stretches the tests
// that depend on real credential lifetimes (rotation, soak, refresh and
// expiry tests): a number, 1 by default, that multiplies their lifetimes,
// windows, latencies and waits, for a machine too slow or too loaded for
// the defaults. docs/RELIABILITY.md describes it.
const timeScaleEnv = "LAKEBASE_TEST_TIME_SCALE"

// timeScale is the value of timeScaleEnv.
var timeScale = func() float64 {
	v := os.Getenv(timeScaleEnv)
	if v == "" {
		return 1
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		panic(fmt.Sprintf("%s=%q: want a positive number", timeScaleEnv, v))
	}
	return f
}()

// scaled is d stretched by the time scale.
func scaled(d time.Duration) time.Duration { return time.Duration(float64(d) * timeScale) }

// waitFor polls cond until it holds, or fails the test once d (scaled)
// has passed: the way these tests wait for something to happen, instead of
// sleeping for a time that a loaded machine may exceed.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(scaled(d)); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s in vain: %s", scaled(d), what)
		}
	}
}

// waitRunning waits until the shared server runs a statement holding marker
// (and, if sleeping, the statement sleeps there in pg_sleep), as
// pg_stat_activity shows it to the superuser, and returns its backend.
func waitRunning(t testing.TB, marker string, sleeping bool) int {
	t.Helper()
	admin, err := sql.Open("postgres", testServer(t).SuperuserDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var pid int
	waitFor(t, 20*time.Second, "the statement "+marker+" runs on the server", func() bool {
		err := admin.QueryRow(`SELECT pid FROM pg_stat_activity
			WHERE state = 'active' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()
			AND (NOT $2 OR wait_event = 'PgSleep')`, marker, sleeping).Scan(&pid)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			t.Fatal(err)
		}
		return err == nil
	})
	return pid
}

// ownKitM2M starts a kit of the test's own with opts, lets prepare (if not
// nil) change it, and opens an oauth-m2m connector to its default instance
// that logs into a capture, with edits applied to its Config.
func ownKitM2M(t testing.TB, opts lakebasetest.Options, prepare func(*lakebasetest.Kit), edits ...func(*lakebase.Config)) (*lakebasetest.Kit, *lakebase.Connector, *sql.DB, *logCapture) {
	t.Helper()
	kit := newKit(t, opts)
	if prepare != nil {
		prepare(kit)
	}
	logs := newLogCapture()
	conn, db := openConnector(t, kit.DSNs().M2M, append([]func(*lakebase.Config){withLogger(logs)}, edits...)...)
	return kit, conn, db, logs
}
