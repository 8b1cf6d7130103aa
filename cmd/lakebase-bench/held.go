package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lakebase-go/lakebase/lakebasetest"
	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
)

// The server and pooler of case 10: far more client connections than the
// server takes, all held open at once through the pooled host.
const (
	heldMaxConnections = 100 // the server's max_connections, about a 0.5 CU compute's
	heldPoolSize       = 20  // PgBouncer's server connections for the role
	heldStatements     = 3   // statements each held connection runs
	heldOpeners        = 64  // connections being opened at any moment
	// heldSlack is how many server backends beyond the pool the target
	// allows. PgBouncer opens no more than the pool for the one role and
	// database of the case; the slack is room for a short session of the
	// kit's own.
	heldSlack = 5
)

// roundHeld starts a kit of its own, whose server has max_connections of
// heldMaxConnections and whose PgBouncer keeps heldPoolSize server
// connections, and opens n connections to its pooled host through lakebase
// with pooled=true, heldOpeners at a time, each a *sql.Conn held until the
// end. With all of them open it runs heldStatements statements on every one,
// all connections at once. It records the time to open them all, the
// statements per second, the failed connects and statements (a failure
// counts and the case goes on: the targets say none may fail), the
// sessions the gateway relays once the statements have run, all still
// held, and the peak of the server's client backends over the whole case.
func (e *Env) roundHeld(ctx context.Context, n int, r *Results) (err error) {
	if err := raiseFileLimit(heldFiles(n)); err != nil {
		return err
	}
	kit, err := startHeldKit(ctx, e.mintLatency)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, kit.Close()) }()
	c, err := pooledConnector(kit)
	if err != nil {
		return err
	}
	db := sql.OpenDB(c) // closes c
	defer db.Close()
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	if err := connectOnce(ctx, c); err != nil {
		return fmt.Errorf("bench: warm the pooled connector: %w", err)
	}
	gate, err := pooledGateway(ctx, kit, c)
	if err != nil {
		return err
	}
	awaitIdle(gate)

	mon, err := watchBackends(ctx, kit.Postgres.SuperuserDSN())
	if err != nil {
		return err
	}
	conns, opened, openErr := openHeld(ctx, db, n)
	defer func() {
		for _, conn := range conns {
			_ = conn.Close()
		}
	}()
	ran, took, stmtErr := runHeld(ctx, conns)
	// Read after the statements: a gateway counts a session once it
	// relays, which starts just after the client's login returns.
	live := gate.Stats().Live
	peak, maxConns, monErr := mon.stop()
	if monErr != nil {
		return monErr
	}

	failedConnects, failedStatements := n-len(conns), len(conns)*heldStatements-ran
	r.add("pooler/held/clients", float64(n))
	r.add("pooler/held/open-s", opened.Seconds())
	r.add("pooler/held/failed-connects", float64(failedConnects))
	r.add("pooler/held/live", float64(live))
	r.add("pooler/held/statements-s", float64(ran)/took.Seconds())
	r.add("pooler/held/failed-statements", float64(failedStatements))
	r.add("pooler/held/peak-backends", float64(peak))
	r.add("pooler/held/max-connections", float64(maxConns))
	r.add("pooler/held/pool-size", heldPoolSize)
	if openErr != nil {
		r.note(fmt.Sprintf("pooler, held: %d of %d connects failed; the first: %v", failedConnects, n, openErr))
	}
	if stmtErr != nil {
		r.note(fmt.Sprintf("pooler, held: %d of %d statements failed; the first: %v", failedStatements, len(conns)*heldStatements, stmtErr))
	}
	return nil
}

// startHeldKit starts the kit of case 10 and its PgBouncer, whose
// workspace takes mintLatency to mint.
func startHeldKit(ctx context.Context, mintLatency time.Duration) (*lakebasetest.Kit, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	kit, err := lakebasetest.Start(ctx, lakebasetest.Options{
		Postgres:          pgserver.Options{MaxConnections: heldMaxConnections},
		PgBouncerPoolSize: heldPoolSize,
		MintLatency:       mintLatency,
	})
	if err != nil {
		return nil, fmt.Errorf("bench: the held connections' kit: %w", err)
	}
	if err := kit.StartPgBouncer(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("bench: the held connections' kit: %w", err), kit.Close())
	}
	return kit, nil
}

// heldFiles is about how many open files this process needs to hold n
// connections through the kit's pooled host: the client's socket, the one
// the gateway accepted and the gateway's socket to PgBouncer, for each,
// plus room for the rest of the kit.
func heldFiles(n int) uint64 { return uint64(3*n + 512) }

// openHeld opens n connections of db, heldOpeners at a time, and returns
// those it opened, how long opening took, and the first failures.
func openHeld(ctx context.Context, db *sql.DB, n int) ([]*sql.Conn, time.Duration, error) {
	conns := make([]*sql.Conn, n)
	errs := make([]error, n)
	slots := make(chan struct{}, heldOpeners)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			conns[i], errs[i] = db.Conn(ctx)
		})
	}
	wg.Wait()
	took := time.Since(start)
	var ok []*sql.Conn
	var failures []error
	for i, conn := range conns {
		if errs[i] != nil {
			failures = append(failures, errs[i])
		} else {
			ok = append(ok, conn)
		}
	}
	return ok, took, errors.Join(failures[:min(len(failures), 3)]...)
}

// runHeld runs heldStatements statements on every conn, all conns at once
// (each its statements one after the other), and returns how many
// succeeded with the right answer, how long all took, and the first
// failures. Every statement takes an argument and echoes it, so that a
// statement answered on another client's behalf would show.
func runHeld(ctx context.Context, conns []*sql.Conn) (int, time.Duration, error) {
	var (
		ok       atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []error
	)
	ready := make(chan struct{})
	for i, conn := range conns {
		wg.Go(func() {
			<-ready
			for s := range heldStatements {
				want := i*heldStatements + s
				var got int
				err := conn.QueryRowContext(ctx, "SELECT $1::int", want).Scan(&got)
				if err == nil && got != want {
					err = fmt.Errorf("connection %d got %d, want %d", i, got, want)
				}
				if err != nil {
					mu.Lock()
					if len(failures) < 3 {
						failures = append(failures, err)
					}
					mu.Unlock()
					continue
				}
				ok.Add(1)
			}
		})
	}
	start := time.Now()
	close(ready)
	wg.Wait()
	return int(ok.Load()), time.Since(start), errors.Join(failures...)
}
