package bench

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
	c := credcache.New(func(context.Context) (credcache.Credential, error) {
		return credcache.Credential{Value: "warm", Expiry: time.Now().Add(time.Hour)}, nil
	}, credcache.Options{})
	if _, err := c.Get(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("bench: warm the cache: %w", err)
	}
	return c, nil
}

// roundCacheHit measures a cache hit (credcache.Cache.Get, the step of every
// Connect) and the public Connector.Credential on 1 and hitGoroutines
// goroutines, each for about d, and the wall clock alone, which is the hit's
// floor: expiry is judged by the wall clock.
func (e *Env) roundCacheHit(ctx context.Context, d time.Duration, r *Results) error {
	cache, err := newWarmCache(ctx)
	if err != nil {
		return err
	}
	defer cache.Close()
	var failed error
	var once sync.Once
	fail := func(err error) { once.Do(func() { failed = err }) }

	clock, _ := timeOps(1, d, func() { _ = time.Now() })
	r.add("cache/clock-ns", clock)
	for _, g := range []int{1, hitGoroutines} {
		ns, allocs := timeOps(g, d, func() {
			if _, err := cache.Get(ctx); err != nil {
				fail(err)
			}
		})
		r.add(fmt.Sprintf("cache/get-%d-ns", g), ns)
		r.add(fmt.Sprintf("cache/get-%d-allocs", g), allocs)
		ns, allocs = timeOps(g, d, func() {
			if _, err := e.lbDirect.Credential(ctx); err != nil {
				fail(err)
			}
		})
		r.add(fmt.Sprintf("cache/credential-%d-ns", g), ns)
		r.add(fmt.Sprintf("cache/credential-%d-allocs", g), allocs)
	}
	r.add("cache/get-1-minus-clock-ns", last(r, "cache/get-1-ns")-clock)
	if failed != nil {
		return fmt.Errorf("bench: cache hit: %w", failed)
	}
	return nil
}

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
