package bench

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"
)

// roundStorm sends size goroutines at once through a cold lakebase connector
// (no login, host, identity or credential yet) and, for reference, the same
// storm through lib/pq with a credential in hand, both through the gateway.
// It records the mints the cold storm cost, each storm's median and 99th
// percentile connect, and the limit the cold storm's 99th percentile must
// stay under: twice the mint latency plus the plain storm's 99th percentile.
func (e *Env) roundStorm(ctx context.Context, size int, r *Results) error {
	plain, err := storm(ctx, e.pqGate, size)
	if err != nil {
		return fmt.Errorf("bench: storm with lib/pq: %w", err)
	}
	cold, err := e.m2mConnector(0, 0)
	if err != nil {
		return err
	}
	defer cold.Close()
	identity := e.Kit.ServicePrincipal.ApplicationID
	before := e.Kit.Workspace.MintsFor(identity)
	lat, err := storm(ctx, cold, size)
	if err != nil {
		return fmt.Errorf("bench: storm with a cold lakebase connector: %w", err)
	}
	mints := e.Kit.Workspace.MintsFor(identity) - before

	plainMS, coldMS := millis(plain), millis(lat)
	r.add("storm/pq-gateway/p50-ms", median(plainMS))
	r.add("storm/pq-gateway/p99-ms", percentile(plainMS, 99))
	r.add("storm/lakebase-cold/p50-ms", median(coldMS))
	r.add("storm/lakebase-cold/p99-ms", percentile(coldMS, 99))
	r.add("storm/lakebase-cold/mints", float64(mints))
	r.add("storm/limit-ms", 2*(float64(e.mintLatency)/float64(time.Millisecond)+percentile(plainMS, 99)))
	return nil
}

// storm starts size goroutines that each open a connection with c at the
// same moment and close it at once, and returns each one's connect latency.
func storm(ctx context.Context, c driver.Connector, size int) ([]time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	lat := make([]time.Duration, size)
	errs := make([]error, size)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range size {
		wg.Go(func() {
			<-start
			t0 := time.Now()
			conn, err := c.Connect(ctx)
			lat[i] = time.Since(t0)
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = conn.Close()
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, firstLines(err, 3)
	}
	return lat, nil
}

// firstLines keeps the first n of a joined error's messages, with a count of
// the rest, so that a thousand alike failures do not flood the output.
func firstLines(err error, n int) error {
	var all []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		all = j.Unwrap()
	} else {
		all = []error{err}
	}
	if len(all) <= n {
		return err
	}
	return fmt.Errorf("%w\n(and %d more)", errors.Join(all[:n]...), len(all)-n)
}
