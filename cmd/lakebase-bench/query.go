package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// poolSize is the size of the pools that case 2 compares, and the number of
// goroutines that use each.
const poolSize = 8

// queryPool is one driver's sql.DB.
type queryPool struct {
	key string
	db  *sql.DB
}

// openPools opens a pool of poolSize connections for lib/pq, lakebase and
// pgx's stdlib, all straight to the server as the native role, and fills
// each with its connections.
func (e *Env) openPools(ctx context.Context) ([]queryPool, error) {
	pgxCfg, err := pgx.ParseConfig(e.direct.dsn())
	if err != nil {
		return nil, fmt.Errorf("bench: pgx configuration: %w", err)
	}
	// A connector of its own, as sql.DB.Close closes it.
	lb, err := e.directConnector()
	if err != nil {
		return nil, err
	}
	pools := []queryPool{
		{"pq", sql.OpenDB(e.pqDirect)},
		{"lakebase", sql.OpenDB(lb)},
		{"pgx", stdlib.OpenDB(*pgxCfg)},
	}
	for _, p := range pools {
		p.db.SetMaxOpenConns(poolSize)
		p.db.SetMaxIdleConns(poolSize)
		if err := fill(ctx, p.db); err != nil {
			closePools(pools)
			return nil, fmt.Errorf("bench: fill the %s pool: %w", p.key, err)
		}
	}
	return pools, nil
}

// fill opens all of a pool's connections at once and returns them to it.
func fill(ctx context.Context, db *sql.DB) error {
	conns := make([]*sql.Conn, 0, poolSize)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for range poolSize {
		c, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		conns = append(conns, c)
	}
	return nil
}

// closePools closes every pool.
func closePools(pools []queryPool) {
	for _, p := range pools {
		_ = p.db.Close()
	}
}

// selectOne runs SELECT 1.
func selectOne(ctx context.Context, db *sql.DB) error {
	var n int
	return db.QueryRowContext(ctx, "SELECT 1").Scan(&n)
}

// scanTable reads every row of bench_rows into Go values.
func scanTable(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "SELECT id, name, value, created FROM bench_rows")
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		n       int
		id      int64
		name    string
		value   float64
		created time.Time
	)
	for rows.Next() {
		if err := rows.Scan(&id, &name, &value, &created); err != nil {
			return err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n != scanRows {
		return fmt.Errorf("scanned %d rows, want %d", n, scanRows)
	}
	return nil
}

// queryPlan says how long a round measures each driver: slices of slice,
// taken in turns by the drivers, so that a drifting machine slows all alike.
type queryPlan struct {
	slices int
	slice  time.Duration
}

// roundQueries measures, for each pool, SELECT 1 per second and full scans of
// the 10,000-row table per second with poolSize goroutines, and records the
// ratios of lakebase and pgx to lib/pq: the median over slices of the ratio
// of the rates in slices run one after the other, which a machine whose load
// comes and goes moves least.
func roundQueries(ctx context.Context, pools []queryPool, sel, scan queryPlan, r *Results) error {
	for _, q := range []struct {
		name string
		plan queryPlan
		op   func(context.Context, *sql.DB) error
	}{{"select1", sel, selectOne}, {"scan", scan, scanTable}} {
		overall, perSlice, err := rateSlices(ctx, q.name, pools, q.plan, q.op)
		if err != nil {
			return err
		}
		prefix := "query/" + q.name + "/"
		for _, p := range pools {
			r.add(prefix+p.key+"/ops-s", overall[p.key])
		}
		for _, k := range []string{"lakebase", "pgx"} {
			r.add(prefix+k+"/ratio", sliceRatio(perSlice, k, "pq"))
		}
	}
	return nil
}

// rateSlices runs op, named name, on each pool from poolSize goroutines in
// plan.slices turns of plan.slice each. In each turn the pools go one after
// the other in a shuffled order, each after a garbage collection, so that
// no pool pays for the garbage of the one before it. It returns each pool's
// rate over all its slices, and its rate in each turn, in turn order.
func rateSlices(ctx context.Context, name string, pools []queryPool, plan queryPlan, op func(context.Context, *sql.DB) error) (overall map[string]float64, perSlice map[string][]float64, err error) {
	ops := make(map[string]int64)
	spent := make(map[string]time.Duration)
	perSlice = make(map[string][]float64)
	for range plan.slices {
		for _, j := range rand.Perm(len(pools)) {
			p := pools[j]
			runtime.GC()
			n, took, err := hammer(ctx, plan.slice, func(ctx context.Context) error { return op(ctx, p.db) })
			if err != nil {
				return nil, nil, fmt.Errorf("bench: %s with %s: %w", name, p.key, err)
			}
			ops[p.key] += n
			spent[p.key] += took
			perSlice[p.key] = append(perSlice[p.key], float64(n)/took.Seconds())
		}
	}
	overall = make(map[string]float64, len(pools))
	for _, p := range pools {
		overall[p.key] = float64(ops[p.key]) / spent[p.key].Seconds()
	}
	return overall, perSlice, nil
}

// sliceRatio is the median over turns of a's rate over b's in the same turn.
func sliceRatio(perSlice map[string][]float64, a, b string) float64 {
	ratios := make([]float64, min(len(perSlice[a]), len(perSlice[b])))
	for s := range ratios {
		ratios[s] = perSlice[a][s] / perSlice[b][s]
	}
	return median(ratios)
}

// hammer runs op from poolSize goroutines until d has passed, and returns
// how many ops completed and how long that took.
func hammer(ctx context.Context, d time.Duration, op func(context.Context) error) (int64, time.Duration, error) {
	var (
		n    atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	start := time.Now()
	deadline := start.Add(d)
	for range poolSize {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := op(ctx); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return n.Load(), time.Since(start), errors.Join(errs...)
}
