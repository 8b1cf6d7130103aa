package lakebase

import (
	"context"
	"time"

	"github.com/lakebase-go/lakebase/internal/backoff"
	"github.com/lib/pq"
)

// defaultConnectBudget is how long Connect waits for a starting or waking
// target when neither the context's deadline nor connect_timeout says.
const defaultConnectBudget = 2 * time.Minute

// Pauses between attempts on a starting target grow from the first to the
// last.
const (
	firstPause = 100 * time.Millisecond
	lastPause  = 2 * time.Second
)

// connectWait spaces the attempts of one Connect on a target that is not
// ready, and ends them when the next pause would overrun the budget.
type connectWait struct {
	deadline time.Time
	next     time.Duration
}

// connectBudget is the budget of a Connect whose context has no deadline:
// connect_timeout, else defaultConnectBudget.
func connectBudget(base pq.Config) time.Duration {
	if base.ConnectTimeout > 0 {
		return base.ConnectTimeout
	}
	return defaultConnectBudget
}

// newWait starts the budget of one Connect: the context's deadline, else
// the connector's budget.
func (c *Connector) newWait(ctx context.Context) *connectWait {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(c.budget)
	}
	return &connectWait{deadline: deadline, next: firstPause}
}

// pause sleeps before the next attempt and reports true, or reports false at
// once when the budget cannot hold the pause or ctx ends.
func (w *connectWait) pause(ctx context.Context) bool {
	d := w.next
	if time.Until(w.deadline) < d {
		return false
	}
	w.next = min(2*w.next, lastPause)
	return backoff.Sleep(ctx, d, nil)
}

// bound returns ctx with the budget's deadline when it has no deadline of
// its own, so that a step of such a Connect (a wait for a throttled
// workspace, a server that accepts and never answers) ends within the
// budget; and the function that releases it.
func (w *connectWait) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, w.deadline)
}
