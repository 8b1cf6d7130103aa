package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/lib/pq"
)

// copyRows is how many rows each load of case 8 copies.
const copyRows = 100_000

// roundCopy loads copyRows rows with pq.CopyIn, over TLS, loads times through
// lib/pq and through lakebase in a shuffled order, and records each driver's
// rows per second and the median, over loads, of lakebase's rate over lib/pq's
// in the same load.
func roundCopy(ctx context.Context, pools []queryPool, loads int, r *Results) error {
	rates := make(map[string][]float64)
	for range loads {
		for _, j := range rand.Perm(len(pools)) {
			p := pools[j]
			if p.key != "pq" && p.key != "lakebase" {
				continue
			}
			runtime.GC()
			took, err := copyLoad(ctx, p.db, "bench_copy_"+p.key)
			if err != nil {
				return fmt.Errorf("bench: copy with %s: %w", p.key, err)
			}
			rates[p.key] = append(rates[p.key], copyRows/took.Seconds())
		}
	}
	ratios := make([]float64, loads)
	for i := range ratios {
		ratios[i] = rates["lakebase"][i] / rates["pq"][i]
	}
	r.add("copy/pq/rows-s", median(rates["pq"]))
	r.add("copy/lakebase/rows-s", median(rates["lakebase"]))
	r.add("copy/lakebase/ratio", median(ratios))
	return nil
}

// copyLoad empties table (made if missing) and copies copyRows rows into it
// in one transaction, and returns how long the copy took.
func copyLoad(ctx context.Context, db *sql.DB, table string) (time.Duration, error) {
	if _, err := db.ExecContext(ctx, "CREATE UNLOGGED TABLE IF NOT EXISTS "+table+" (id int, name text, value float8); TRUNCATE "+table); err != nil {
		return 0, err
	}
	start := time.Now()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, pq.CopyIn(table, "id", "name", "value"))
	if err != nil {
		return 0, err
	}
	defer func() { _ = stmt.Close() }()
	for i := range copyRows {
		if _, err := stmt.ExecContext(ctx, i, "row number", float64(i)*0.5); err != nil {
			return 0, err
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return 0, err
	}
	if err := stmt.Close(); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
