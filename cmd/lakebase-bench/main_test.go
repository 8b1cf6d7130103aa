package main

import (
	"context"
	"flag"
	"sync"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/internal/leakcheck"
	"github.com/lakebase-go/lakebase/internal/testenv"
)

var (
	mintLatency = flag.Duration("mint-latency", 50*time.Millisecond, "how long the fake workspace takes to mint a credential")
	stormSize   = flag.Int("storm", 1000, "goroutines in BenchmarkStorm")
	hour        = flag.Duration("hour", 6*time.Second, "real time standing for one hour in BenchmarkTraffic")
)

func TestMain(m *testing.M) {
	leakcheck.Main(m, func() error {
		if sharedEnv == nil {
			return nil
		}
		return sharedEnv.Close()
	})
}

var (
	envOnce   sync.Once
	sharedEnv *Env
	envErr    error
)

// testEnv returns the kit shared by this package's benchmarks, started on
// first use. Without PostgreSQL it skips, except under CI.
func testEnv(b *testing.B) *Env {
	b.Helper()
	envOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		sharedEnv, envErr = StartEnv(ctx, *mintLatency, *stormSize)
	})
	testenv.Require(b, envErr)
	return sharedEnv
}
