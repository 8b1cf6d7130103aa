package lakebasetest

import (
	"context"
	"errors"

	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
)

// StartPgBouncer starts the PgBouncer behind the kit's pooled hosts, unless
// it runs already. The first pooled login starts it too; calling it first
// lets a program or a test on a shared kit tell a missing pgbouncer (the
// error then wraps pgserver.ErrPgBouncerNotFound) from a failed query.
func (k *Kit) StartPgBouncer(ctx context.Context) error {
	_, err := k.pgBouncer(ctx)
	return err
}

// pgBouncer returns the kit's PgBouncer, starting it on first use. A start
// that failed is tried again by the next caller.
func (k *Kit) pgBouncer(ctx context.Context) (*pgserver.PgBouncer, error) {
	k.bouncerMu.Lock()
	defer k.bouncerMu.Unlock()
	if k.bouncer != nil {
		return k.bouncer, nil
	}
	k.mu.Lock()
	closed := k.closed
	k.mu.Unlock()
	if closed {
		return nil, errors.New("lakebasetest: kit is closed")
	}
	b, err := k.Postgres.StartPgBouncer(ctx, k.poolSize)
	if err != nil {
		return nil, err
	}
	k.bouncer = b
	return b, nil
}
