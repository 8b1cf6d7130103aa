package main

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/lakebase-go/lakebase/internal/credcache"
)

// hitGoroutines is the concurrency of the parallel cache-hit measurement.
const hitGoroutines = 64

// newWarmCache returns a credential cache holding a credential valid for an
// hour: every Get is a hit. It is the cache each Connector keeps, which every
// new connection asks first.
func newWarmCache(ctx context.Context) (*credcache.Cache, error) {
	c := credcache.New(func(context.Context) (string, time.Time, error) {
		return "warm", time.Now().Add(time.Hour), nil
	}, credcache.Options{})
	if _, _, err := c.Get(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("bench: warm the cache: %w", err)
	}
	return c, nil
}

// roundCacheHit measures a cache hit (credcache.Cache.Get, the step of every
// Connect) and the public Connector.Credential on 1 and hitGoroutines
// goroutines, and the wall clock alone, which is the hit's floor: expiry is
// judged by the wall clock. Each is measured in turns, hitTurns times for
// about d in all, and the medians are recorded; the hit less the clock is the
// median of the differences of each turn.
func (e *Env) roundCacheHit(ctx context.Context, d time.Duration, r *Results) error {
	cache, err := newWarmCache(ctx)
	if err != nil {
		return err
	}
	defer cache.Close()
	var failed error
	var once sync.Once
	fail := func(err error) { once.Do(func() { failed = err }) }
	ops := []struct {
		key        string
		goroutines int
		op         func()
	}{
		{"cache/clock", 1, func() { _ = time.Now() }},
		{"cache/get-1", 1, func() {
			if _, _, err := cache.Get(ctx); err != nil {
				fail(err)
			}
		}},
		{"cache/get-64", hitGoroutines, func() {
			if _, _, err := cache.Get(ctx); err != nil {
				fail(err)
			}
		}},
		{"cache/credential-1", 1, func() {
			if _, err := e.lbDirect.Credential(ctx); err != nil {
				fail(err)
			}
		}},
		{"cache/credential-64", hitGoroutines, func() {
			if _, err := e.lbDirect.Credential(ctx); err != nil {
				fail(err)
			}
		}},
	}
	nsPer := make(map[string][]float64)
	allocs := make(map[string]float64)
	var lessClock []float64
	for range hitTurns {
		for _, o := range ops {
			ns, a := timeOps(o.goroutines, d/hitTurns/time.Duration(len(ops)), o.op)
			nsPer[o.key] = append(nsPer[o.key], ns)
			allocs[o.key] = max(allocs[o.key], a)
		}
		lessClock = append(lessClock, lastOf(nsPer["cache/get-1"])-lastOf(nsPer["cache/clock"]))
	}
	for _, o := range ops {
		r.add(o.key+"-ns", median(nsPer[o.key]))
		if o.key != "cache/clock" {
			r.add(o.key+"-allocs", allocs[o.key])
		}
	}
	r.add("cache/get-1-minus-clock-ns", median(lessClock))
	if failed != nil {
		return fmt.Errorf("bench: cache hit: %w", failed)
	}
	return nil
}

// hitTurns is how many times each cache-hit measurement is taken in a round.
const hitTurns = 5

// lastOf returns the last element of xs.
func lastOf(xs []float64) float64 { return xs[len(xs)-1] }

// timeOps runs op about d long from g goroutines and returns the wall time
// per op (total time over total ops, as testing's RunParallel reports) and
// the allocations per op, rounded down as testing does.
func timeOps(g int, d time.Duration, op func()) (nsPerOp, allocsPerOp float64) {
	// Size the run from a short trial.
	const trial = 1000
	start := time.Now()
	for range trial {
		op()
	}
	perOp := time.Since(start) / trial
	n := int(d / max(perOp, 1))
	n = max(n/g*g, g)

	var before, after runtime.MemStats
	var wg sync.WaitGroup
	ready := make(chan struct{})
	runtime.ReadMemStats(&before)
	for range g {
		wg.Go(func() {
			<-ready
			for range n / g {
				op()
			}
		})
	}
	start = time.Now()
	close(ready)
	wg.Wait()
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	// Starting g goroutines allocates a little; n is large enough that
	// it rounds away, as do stray allocations of the kit's goroutines.
	mallocs := after.Mallocs - before.Mallocs
	return float64(took.Nanoseconds()) / float64(n), float64(mallocs / uint64(n))
}
