package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lakebase-go/lakebase"
)

// The demo's pool settings: few idle connections, kept briefly, so that the
// workload keeps opening new connections, each needing a valid credential.
const (
	maxIdle     = 1
	maxLifetime = time.Second
)

// queryTimeout bounds one query of the workload.
const queryTimeout = 10 * time.Second

// countingConnector is the driver's Connector, counting and timing the
// connections it opens. Close and Stats are the Connector's own.
type countingConnector struct {
	*lakebase.Connector
	opened  atomic.Int64
	slowest atomic.Int64 // nanoseconds
}

// Connect opens a connection through the driver and records its timing.
func (c *countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	start := time.Now()
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	c.opened.Add(1)
	took := int64(time.Since(start))
	for old := c.slowest.Load(); took > old && !c.slowest.CompareAndSwap(old, took); old = c.slowest.Load() {
	}
	return conn, nil
}

// workload runs queries through a sql.DB and counts them.
type workload struct {
	interrupted context.Context // once it ends, failures are not the driver's
	conn        *countingConnector
	db          *sql.DB
	want        string // the role every query must run as

	queries, failed atomic.Int64
	mu              sync.Mutex
	firstFailure    error
}

// newWorkload returns a workload on conn, whose queries must run as want.
// Failures that interrupted's end explains (Ctrl-C) do not count.
func newWorkload(interrupted context.Context, conn *lakebase.Connector, want string) *workload {
	cc := &countingConnector{Connector: conn}
	db := sql.OpenDB(cc)
	db.SetMaxIdleConns(maxIdle)
	db.SetConnMaxLifetime(maxLifetime)
	return &workload{interrupted: interrupted, conn: cc, db: db, want: want}
}

// close closes the pool and the connector.
func (w *workload) close() error { return w.db.Close() }

// run runs workers until ctx ends, reporting progress to p, and returns how
// long it ran.
func (w *workload) run(ctx context.Context, workers int, p *progress) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				w.query()
			}
		})
	}
	p.run(ctx, start)
	wg.Wait()
	elapsed := time.Since(start)
	p.done(elapsed)
	return elapsed
}

// query runs one query and counts it. It has a context of its own, so that
// the end of the run lets queries in flight finish.
func (w *workload) query() {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	var user string
	err := w.db.QueryRowContext(ctx, "SELECT current_user").Scan(&user)
	if err == nil && user != w.want {
		err = fmt.Errorf("ran as %q, want %q", user, w.want)
	}
	w.queries.Add(1)
	if err != nil {
		w.failed.Add(1)
		w.mu.Lock()
		if w.firstFailure == nil {
			w.firstFailure = err
		}
		w.mu.Unlock()
	}
}

// counts is a snapshot of the workload's counters.
type counts struct {
	queries, failed, opened int64
	stats                   lakebase.Stats
}

// counts returns the counters now.
func (w *workload) counts() counts {
	return counts{queries: w.queries.Load(), failed: w.failed.Load(), opened: w.conn.opened.Load(), stats: w.conn.Stats()}
}
