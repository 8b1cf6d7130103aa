package lakebasepgx_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasepgx"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// pgBouncerKit starts a kit of the test's own whose PgBouncer keeps
// serverConns server connections per role, and starts the PgBouncer;
// outside CI it skips where pgbouncer is not installed.
func pgBouncerKit(t *testing.T, serverConns int, lifetime time.Duration) *lakebasetest.Kit {
	t.Helper()
	return lakebasetest.New(t, lakebasetest.Options{PgBouncer: true, PgBouncerPoolSize: serverConns, CredentialLifetime: lifetime})
}

// pooledDSN logs in to the default endpoint's pooled host as the kit's
// service principal, plus extra keys.
func pooledDSN(kit *lakebasetest.Kit, extra string) string {
	return m2mDSN(kit, kit.ServicePrincipal, "endpoint="+quote(lakebasetest.DefaultEndpoint)+" pooled=true", extra)
}

// pooledWorkload runs queries from workers goroutines, each with a query
// text of its own and an argument, plus a transaction and a COPY, and
// returns the errors and how many server backends answered.
func pooledWorkload(t *testing.T, pool *pgxpool.Pool, workers, rounds int) (errs []error, backends int) {
	t.Helper()
	ctx := testContext(t, 2*time.Minute)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		pids = map[uint32]bool{}
	)
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				var pid uint32
				var got int
				err := pool.QueryRow(ctx, fmt.Sprintf("SELECT pg_backend_pid(), $1::int + %d", w), r).Scan(&pid, &got)
				if err == nil && got != w+r {
					err = fmt.Errorf("worker %d got %d, want %d", w, got, w+r)
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				pids[pid] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errs, len(pids)
}

// pgx through the pooler: NewPool picks a query exec mode that transaction
// mode cannot break, and the same workload that breaks pgx's default
// (named statements prepared on one server connection, run on another)
// runs without a failure, with more client connections than server ones,
// along with a transaction and a COPY.
func TestPgBouncerPool(t *testing.T) {
	t.Parallel()
	const serverConns, workers, rounds = 2, 24, 40
	kit := pgBouncerKit(t, serverConns, 0)

	pool := newPool(t, pooledDSN(kit, "pool_max_conns=12"))
	if mode := pool.Config().ConnConfig.DefaultQueryExecMode; mode != pgx.QueryExecModeCacheDescribe {
		t.Fatalf("query exec mode on a pooled host = %v, want cache_describe", mode)
	}
	ctx := testContext(t, time.Minute)
	table := "pgx_pooled_" + uniqueName("t")[2:10]
	if _, err := pool.Exec(ctx, "CREATE TABLE "+pgx.Identifier{table}.Sanitize()+" (id int PRIMARY KEY, name text)"); err != nil {
		t.Fatal(err)
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for id := range 5 {
			if _, err := tx.Exec(ctx, "INSERT INTO "+pgx.Identifier{table}.Sanitize()+" VALUES ($1, $2)", id, "tx"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rows := make([][]any, 1000)
	for i := range rows {
		rows[i] = []any{100 + i, "copied"}
	}
	if n, err := pool.CopyFrom(ctx, pgx.Identifier{table}, []string{"id", "name"}, pgx.CopyFromRows(rows)); err != nil || n != 1000 {
		t.Fatalf("COPY: %d rows, %v", n, err)
	}
	var count int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&count); err != nil || count != 1005 {
		t.Fatalf("rows = %d, %v; want 1005", count, err)
	}

	errs, backends := pooledWorkload(t, pool.Pool, workers, rounds)
	if len(errs) > 0 {
		t.Fatalf("%d of %d queries failed; first: %v", len(errs), workers*rounds, errs[0])
	}
	if backends > serverConns {
		t.Errorf("%d server backends answered, want at most the pool's %d", backends, serverConns)
	}
	if open := pool.Stat().TotalConns(); open <= serverConns {
		t.Errorf("%d client connections: the test wants more than the %d server connections", open, serverConns)
	}
}

// A query exec mode the user chose stays, even on a pooled host; this one,
// pgx's default, shows why NewPool changes it when nobody chose: the named
// statements it caches per session meet other sessions' server
// connections.
func TestPgBouncerKeepsChosenQueryExecMode(t *testing.T) {
	t.Parallel()
	kit := pgBouncerKit(t, 2, 0)
	pool := newPool(t, pooledDSN(kit, "pool_max_conns=12 default_query_exec_mode=cache_statement"))
	if mode := pool.Config().ConnConfig.DefaultQueryExecMode; mode != pgx.QueryExecModeCacheStatement {
		t.Fatalf("query exec mode = %v, want the cache_statement asked for", mode)
	}
	errs, _ := pooledWorkload(t, pool.Pool, 24, 20)
	if len(errs) == 0 {
		t.Log("this pooler keeps prepared statements across server connections")
	} else {
		t.Logf("%d of %d queries failed, as documented; first: %v", len(errs), 24*20, errs[0])
	}
	for _, err := range errs {
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || (pgErr.Code != "26000" && pgErr.Code != "42P05") {
			t.Fatalf("a cached statement on another server connection: %v; want 26000 or 42P05", err)
		}
	}

	// Configure, with a pgxpool.Config of the user's: the default is
	// swapped, a mode in its connection string is not.
	connector, err := lakebase.NewConnector(mustParse(t, pooledDSN(kit, "")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { connector.Close() })
	for connString, want := range map[string]pgx.QueryExecMode{
		"": pgx.QueryExecModeCacheDescribe,
		"default_query_exec_mode=cache_statement": pgx.QueryExecModeCacheStatement,
		"default_query_exec_mode=exec":            pgx.QueryExecModeExec,
	} {
		poolCfg, err := pgxpool.ParseConfig(connString)
		if err != nil {
			t.Fatal(err)
		}
		if err := lakebasepgx.Configure(poolCfg, connector); err != nil {
			t.Fatal(err)
		}
		if got := poolCfg.ConnConfig.DefaultQueryExecMode; got != want {
			t.Errorf("Configure of %q: query exec mode %v, want %v", connString, got, want)
		}
	}
}

// Credentials rotate while the pool's connections to the pooler come and
// go: no query fails across several lifetimes. The lifetime is twice that
// of TestPoolAcrossCredentialLifetimes: a login through the pooler takes
// one hop more, and the cache's safety margin (a tenth of the lifetime)
// must cover a login on a busy machine.
func TestPgBouncerPoolAcrossCredentialLifetimes(t *testing.T) {
	t.Parallel()
	const lifetime, run = 6 * time.Second, 14 * time.Second
	kit := pgBouncerKit(t, 2, lifetime)
	pool := newPool(t, pooledDSN(kit, "pool_max_conns=6 pool_max_conn_lifetime=1s pool_max_conn_lifetime_jitter=0s pool_health_check_period=200ms"))
	var failures []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	deadline := time.Now().Add(run)
	for range 6 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, err := currentUser(ctx, pool)
				cancel()
				if err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d queries failed; first: %v", len(failures), failures[0])
	}
	if n := pool.Connector().Stats().CredentialsMinted; n < 2 {
		t.Errorf("%d credentials minted over %v of %v credentials, want at least 2", n, run, lifetime)
	}
}

// mustParse parses a lakebase DSN or fails the test.
func mustParse(t *testing.T, dsn string) *lakebase.Config {
	t.Helper()
	cfg, err := lakebase.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
