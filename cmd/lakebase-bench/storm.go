package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/lakebase-go/lakebase"
)

// roundStorm sends size goroutines at once through a cold lakebase connector
// (no login, host, identity or credential yet) and, for reference, the same
// storm through lib/pq with a credential in hand, both through the gateway.
// It records the mints the cold storm cost, each storm's median and 99th
// percentile connect and failures, and the limit the cold storm's 99th
// percentile must stay under: twice the mint latency plus the plain storm's
// 99th percentile. A third storm asks a cold connector for credentials only,
// without the server, whose logins dominate a connect storm on a small
// machine.
//
// A storm's failed connects are counted, and the first few noted in r,
// rather than ending the run: the server or the gateway may give up on
// logins that queue too long.
func (e *Env) roundStorm(ctx context.Context, size int, r *Results) error {
	identity := e.Kit.ServicePrincipal.ApplicationID
	for _, s := range []struct {
		key  string
		cold bool
		op   func(c *lakebase.Connector) func() (io.Closer, error)
	}{
		{"credential-cold", true, func(c *lakebase.Connector) func() (io.Closer, error) {
			return func() (io.Closer, error) { _, err := c.Credential(ctx); return nil, err }
		}},
		{"pq-gateway", false, nil},
		{"lakebase-cold", true, func(c *lakebase.Connector) func() (io.Closer, error) {
			return func() (io.Closer, error) { return c.Connect(ctx) }
		}},
	} {
		op := func() (io.Closer, error) { return e.pqGate.Connect(ctx) }
		var cold *lakebase.Connector
		if s.cold {
			var err error
			if cold, err = e.m2mConnector(0, 0); err != nil {
				return err
			}
			op = s.op(cold)
		}
		before := e.Kit.Workspace.MintsFor(identity)
		lat, failed, err := concurrently(ctx, size, op)
		if cold != nil {
			_ = cold.Close()
			r.add("storm/"+s.key+"/mints", float64(e.Kit.Workspace.MintsFor(identity)-before))
		}
		ms := millis(lat)
		r.add("storm/"+s.key+"/p50-ms", median(ms))
		r.add("storm/"+s.key+"/p99-ms", percentile(ms, 99))
		r.add("storm/"+s.key+"/failed", float64(failed))
		if err != nil {
			r.note(fmt.Sprintf("storm %s: %d of %d failed; the first: %v", s.key, failed, size, err))
		}
	}
	mint := float64(e.mintLatency) / float64(time.Millisecond)
	r.add("storm/limit-ms", 2*(mint+last(r, "storm/pq-gateway/p99-ms")))
	return nil
}

// concurrently runs op from size goroutines released at the same moment. It
// returns how long each successful op took, how many failed, and the first
// failures. What op opens is closed once timed.
func concurrently(ctx context.Context, size int, op func() (io.Closer, error)) ([]time.Duration, int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	lat := make([]time.Duration, size)
	errs := make([]error, size)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range size {
		wg.Go(func() {
			select {
			case <-start:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
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
	var ok []time.Duration
	var failures []error
	for i, err := range errs {
		if err != nil {
			failures = append(failures, err)
		} else {
			ok = append(ok, lat[i])
		}
	}
	if len(failures) == 0 {
		return ok, 0, nil
	}
	return ok, len(failures), errors.Join(failures[:min(len(failures), 3)]...)
}
