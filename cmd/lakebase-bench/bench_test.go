package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/lakebase-go/lakebase/internal/testenv"
)

// These benchmarks measure the operations of the suite one at a time, for
// profiling: go test -run='^$' -bench=Connect -cpuprofile=cpu.out ./cmd/lakebase-bench.
// The comparison with its ratios, spread and targets is go run ./cmd/lakebase-bench.

func BenchmarkConnect(b *testing.B) {
	env := testEnv(b)
	ctx := context.Background()
	for _, v := range env.connectVariants() {
		b.Run(v.key, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := connectOnce(ctx, v.c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSelect1(b *testing.B) {
	benchmarkPools(b, selectOne)
}

func BenchmarkScan10k(b *testing.B) {
	benchmarkPools(b, scanTable)
}

// benchmarkPools runs op on each driver's pool from poolSize goroutines.
func benchmarkPools(b *testing.B, op func(context.Context, *sql.DB) error) {
	env := testEnv(b)
	ctx := context.Background()
	pools, err := env.openPools(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer closePools(pools)
	for _, p := range pools {
		b.Run(p.key, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(max(1, poolSize/runtime.GOMAXPROCS(0)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := op(ctx, p.db); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkCacheHit measures the public Connector.Credential on a warm
// cache; the cache's own Get, and the wall clock that is its floor, are
// internal/credcache's BenchmarkGet.
func BenchmarkCacheHit(b *testing.B) {
	env := testEnv(b)
	ctx := context.Background()
	b.Run("credential", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := env.lbDirect.Credential(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkStorm runs one storm per iteration and reports the metrics of
// the last: -benchtime=1x is the usual way to run it.
func BenchmarkStorm(b *testing.B) {
	env := testEnv(b)
	res := NewResults()
	for b.Loop() {
		if err := env.roundStorm(context.Background(), *stormSize, res); err != nil {
			b.Fatal(err)
		}
	}
	report(b, res, "storm/")
}

// BenchmarkTraffic runs the rotation and naive-strategy traffic once per
// iteration, each strategy for two (shrunk) hours: -benchtime=1x.
func BenchmarkTraffic(b *testing.B) {
	env := testEnv(b)
	res := NewResults()
	for b.Loop() {
		plan := trafficPlan{hour: *hour, hours: 2, workers: 4}
		if err := env.roundTraffic(context.Background(), plan, res); err != nil {
			b.Fatal(err)
		}
	}
	report(b, res, "rotation/")
	report(b, res, "traffic/")
}

// report passes the latest value of every metric under prefix to b.
func report(b *testing.B, res *Results, prefix string) {
	for key, vs := range res.values {
		if name, ok := strings.CutPrefix(key, prefix); ok {
			b.ReportMetric(vs[len(vs)-1], strings.ReplaceAll(name, "/", "-"))
		}
	}
}

func BenchmarkPGXConnect(b *testing.B) {
	env := testEnv(b)
	ctx := context.Background()
	vs, err := env.pgxConnects(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range vs {
		b.Run(v.key, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				conn, err := v.connect(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if err := conn.Close(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPoolerConnect opens and closes connections of each side through
// the kit's pooled host, as case 9 does.
func BenchmarkPoolerConnect(b *testing.B) {
	env := testEnv(b)
	ctx := context.Background()
	p, err := env.openPooler(ctx)
	testenv.Require(b, err)
	defer p.Close()
	for _, side := range []struct {
		key string
		c   driver.Connector
	}{{"pq", p.pq}, {"lakebase", p.lb}} {
		b.Run(side.key, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := connectOnce(ctx, side.c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPoolerSelect1 runs SELECT 1 on each side's pool through the
// kit's pooled host (PgBouncer in transaction mode), as case 9 does.
func BenchmarkPoolerSelect1(b *testing.B) {
	env := testEnv(b)
	ctx := context.Background()
	p, err := env.openPooler(ctx)
	testenv.Require(b, err)
	pools, err := p.pools(ctx)
	if err != nil {
		b.Fatal(errors.Join(err, p.Close()))
	}
	defer closePools(pools)
	for _, qp := range pools {
		b.Run(qp.key, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(max(1, poolSize/runtime.GOMAXPROCS(0)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := selectOne(ctx, qp.db); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
