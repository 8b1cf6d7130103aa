package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// backendPoll is how often a backendWatch counts the server's backends.
const backendPoll = 10 * time.Millisecond

// backendWatch counts a server's client backends, other than its own,
// until stopped, and keeps the largest count.
type backendWatch struct {
	db       *sql.DB
	maxConns int
	cancel   context.CancelFunc
	done     chan struct{}
	peak     int
	err      error
}

// watchBackends starts counting the client backends of the server that
// superuserDSN, a lib/pq DSN of a superuser, logs in to, on one connection
// of its own.
func watchBackends(ctx context.Context, superuserDSN string) (*backendWatch, error) {
	db, err := sql.Open("postgres", superuserDSN)
	if err != nil {
		return nil, fmt.Errorf("bench: superuser: %w", err)
	}
	db.SetMaxOpenConns(1)
	w := &backendWatch{db: db, done: make(chan struct{})}
	if err := db.QueryRowContext(ctx, "SELECT current_setting('max_connections')::int").Scan(&w.maxConns); err != nil {
		return nil, errors.Join(fmt.Errorf("bench: max_connections: %w", err), db.Close())
	}
	if err := w.count(ctx); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	ctx, w.cancel = context.WithCancel(ctx)
	go w.watch(ctx)
	return w, nil
}

// watch counts every backendPoll until ctx ends or a count fails.
func (w *backendWatch) watch(ctx context.Context) {
	defer close(w.done)
	tick := time.NewTicker(backendPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := w.count(ctx); err != nil {
			if ctx.Err() == nil {
				w.err = err
			}
			return
		}
	}
}

// count counts the client backends once and keeps the peak.
func (w *backendWatch) count(ctx context.Context) error {
	var n int
	err := w.db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`).Scan(&n)
	if err != nil {
		return fmt.Errorf("bench: count the server's backends: %w", err)
	}
	w.peak = max(w.peak, n)
	return nil
}

// stop ends the watch and returns the peak, the server's max_connections
// and the failure that ended the watch early, if any.
func (w *backendWatch) stop() (peak, maxConns int, err error) {
	w.cancel()
	<-w.done
	return w.peak, w.maxConns, errors.Join(w.err, w.db.Close())
}
