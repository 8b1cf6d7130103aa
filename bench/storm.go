package bench

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// roundStorm sends size goroutines at once through a cold lakebase connector
// (no login, host, identity or credential yet) and, for reference, the same
// storm through lib/pq with a credential in hand, both through the gateway.
// It records the mints the cold storm cost, each storm's median and 99th
// percentile connect, and the limit the cold storm's 99th percentile must
// stay under: twice the mint latency plus the plain storm's 99th percentile.
// A third storm asks a cold connector for credentials only, without the
// server, whose logins dominate a connect storm on a small machine.
func (e *Env) roundStorm(ctx context.Context, size int, r *Results) error {
	if err := e.credentialStorm(ctx, size, r); err != nil {
		return err
	}
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

// credentialStorm asks a cold connector for a credential from size
// goroutines at once, and records the mints and the 99th percentile wait.
func (e *Env) credentialStorm(ctx context.Context, size int, r *Results) error {
	cold, err := e.m2mConnector(0, 0)
	if err != nil {
		return err
	}
	defer cold.Close()
	identity := e.Kit.ServicePrincipal.ApplicationID
	before := e.Kit.Workspace.MintsFor(identity)
	lat, err := concurrently(size, func() (io.Closer, error) {
		_, err := cold.Credential(ctx)
		return nil, err
	})
	if err != nil {
		return fmt.Errorf("bench: credential storm: %w", err)
	}
	ms := millis(lat)
	r.add("storm/credential-cold/p50-ms", median(ms))
	r.add("storm/credential-cold/p99-ms", percentile(ms, 99))
	r.add("storm/credential-cold/mints", float64(e.Kit.Workspace.MintsFor(identity)-before))
	return nil
}

// storm starts size goroutines that each open a connection with c at the
// same moment and close it at once, and returns each one's connect latency.
func storm(ctx context.Context, c driver.Connector, size int) ([]time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return concurrently(size, func() (io.Closer, error) { return c.Connect(ctx) })
}

// concurrently runs op from size goroutines released at the same moment,
// and returns how long each took. What op opens is closed once timed.
func concurrently(size int, op func() (io.Closer, error)) ([]time.Duration, error) {
	lat := make([]time.Duration, size)
	errs := make([]error, size)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range size {
		wg.Go(func() {
			<-start
			t0 := time.Now()
			c, err := op()
			lat[i] = time.Since(t0)
			if err == nil && c != nil {
				err = c.Close()
			}
			errs[i] = err
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
