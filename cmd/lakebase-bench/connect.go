package main

import (
	"context"
	"database/sql/driver"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/lakebase-go/lakebase/lakebasetest"
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
// and records each variant's median and 99th percentile latency and
// lakebase's latency ratios to lib/pq. Then it counts each variant's
// allocations per connect (see allocsPerConnect).
//
// The order of the turns is shuffled each time: in a fixed order each
// variant would always follow the same one, and a connect is slower just
// after one through the gateway, whose session is still ending.
func (e *Env) roundConnect(ctx context.Context, n int, r *Results) error {
	vs := e.connectVariants()
	keys := make([]string, len(vs))
	for i, v := range vs {
		keys[i] = v.key
	}
	lat, err := connectTurns(e.Kit.InstanceGateway(), n, keys, func(i int) (func() error, error) {
		conn, err := vs[i].c.Connect(ctx)
		if err != nil {
			return nil, err
		}
		return conn.Close, nil
	})
	if err != nil {
		return err
	}
	for _, v := range vs {
		ms := millis(lat[v.key])
		r.add("connect/"+v.key+"/p50-ms", median(ms))
		r.add("connect/"+v.key+"/p99-ms", percentile(ms, 99))
		allocs, err := e.allocsPerConnect(ctx, v.c, min(n, allocConnects))
		if err != nil {
			return fmt.Errorf("bench: connect %s: %w", v.key, err)
		}
		r.add("connect/"+v.key+"/allocs", allocs)
	}
	for _, path := range []string{"direct", "gateway"} {
		r.add("connect/"+path+"/ratio", pairedRatio(lat["lakebase-"+path], lat["pq-"+path]))
		r.add("connect/"+path+"/extra-allocs", last(r, "connect/lakebase-"+path+"/allocs")-last(r, "connect/pq-"+path+"/allocs"))
	}
	return nil
}

// allocConnects is how many connects allocsPerConnect counts.
const allocConnects = 20

// allocsPerConnect opens and closes n connections with c, one after the
// other, and returns the allocations of this process per connect, rounded
// to the nearest whole. The count includes the in-process gateway's work,
// which is the same for lakebase and lib/pq; so that none of it spills from
// one connect into the next, each close waits until the gateway has ended
// the session.
func (e *Env) allocsPerConnect(ctx context.Context, c driver.Connector, n int) (float64, error) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		if err := connectOnce(ctx, c); err != nil {
			return 0, err
		}
		awaitIdle(e.Kit.InstanceGateway())
	}
	runtime.ReadMemStats(&after)
	return math.Round(float64(after.Mallocs-before.Mallocs) / float64(n)), nil
}

// awaitIdle waits, for a second at most, until gw has ended every session,
// as it does shortly after the client closes.
func awaitIdle(gw *lakebasetest.Gateway) {
	for deadline := time.Now().Add(time.Second); gw.Stats().Live > 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Microsecond)
	}
}

// last returns the latest round's value of key.
func last(r *Results, key string) float64 {
	vs := r.Values(key)
	return vs[len(vs)-1]
}

// connectTurns opens and closes n connections with each of the ways keys
// name, taking turns one connection at a time in an order shuffled each
// turn, and returns each way's connect latencies (the close is not timed).
// open opens a connection the i-th way and returns its close. Between
// connections it waits for gw, the gateway they go through, to finish the
// one just closed.
func connectTurns(gw *lakebasetest.Gateway, n int, keys []string, open func(i int) (close func() error, err error)) (map[string][]time.Duration, error) {
	lat := make(map[string][]time.Duration, len(keys))
	for range n {
		for _, i := range rand.Perm(len(keys)) {
			start := time.Now()
			closeConn, err := open(i)
			took := time.Since(start)
			if err != nil {
				return nil, fmt.Errorf("bench: connect %s: %w", keys[i], err)
			}
			if err := closeConn(); err != nil {
				return nil, fmt.Errorf("bench: close %s: %w", keys[i], err)
			}
			awaitIdle(gw)
			lat[keys[i]] = append(lat[keys[i]], took)
		}
	}
	return lat, nil
}
