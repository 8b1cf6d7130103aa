package bench

import (
	"context"
	"database/sql/driver"
	"fmt"
	"runtime"
	"time"
)

// connectVariant is one way of opening a new physical connection.
type connectVariant struct {
	key string
	c   driver.Connector
}

// connectVariants are the four ways case 1 compares, in pairs: lib/pq and
// lakebase straight to the server with the same fixed password, and lib/pq
// and lakebase through the gateway with the same minted credential, so that
// the gateway's own cost is not counted as the driver's.
func (e *Env) connectVariants() []connectVariant {
	return []connectVariant{
		{"pq-direct", e.pqDirect},
		{"lakebase-direct", e.lbDirect},
		{"pq-gateway", e.pqGate},
		{"lakebase-gateway", e.gateway},
	}
}

// roundConnect opens and closes n connections with each variant, taking
// turns one connection at a time so that a drifting machine slows all alike,
// and records each variant's median and 99th percentile latency, its
// allocations per connect, and lakebase's ratios to lib/pq.
func (e *Env) roundConnect(ctx context.Context, n int, r *Results) error {
	vs := e.connectVariants()
	lat := make(map[string][]time.Duration, len(vs))
	allocs := make(map[string][]float64, len(vs))
	var before, after runtime.MemStats
	for i := range n {
		for j := range vs {
			v := vs[(i+j)%len(vs)] // each variant goes first in turn
			runtime.ReadMemStats(&before)
			start := time.Now()
			conn, err := v.c.Connect(ctx)
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if err != nil {
				return fmt.Errorf("bench: connect %s: %w", v.key, err)
			}
			if err := conn.Close(); err != nil {
				return fmt.Errorf("bench: close %s: %w", v.key, err)
			}
			lat[v.key] = append(lat[v.key], took)
			allocs[v.key] = append(allocs[v.key], float64(after.Mallocs-before.Mallocs))
		}
	}
	for _, v := range vs {
		ms := millis(lat[v.key])
		r.add("connect/"+v.key+"/p50-ms", median(ms))
		r.add("connect/"+v.key+"/p99-ms", percentile(ms, 99))
		r.add("connect/"+v.key+"/allocs", median(allocs[v.key]))
	}
	for _, path := range []string{"direct", "gateway"} {
		lb, pq := "connect/lakebase-"+path, "connect/pq-"+path
		r.add("connect/"+path+"/ratio", last(r, lb+"/p50-ms")/last(r, pq+"/p50-ms"))
		r.add("connect/"+path+"/extra-allocs", last(r, lb+"/allocs")-last(r, pq+"/allocs"))
	}
	return nil
}

// last returns the latest round's value of key.
func last(r *Results, key string) float64 {
	vs := r.Values(key)
	return vs[len(vs)-1]
}
