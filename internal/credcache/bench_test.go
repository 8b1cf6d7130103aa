package credcache

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// BenchmarkGet measures a cache hit, the path every new connection takes.
// Its floor is one read of the wall clock, measured by the "clock" case.
func BenchmarkGet(b *testing.B) {
	c := warmCache(b)
	ctx := context.Background()

	b.Run("clock", func(b *testing.B) {
		for b.Loop() {
			_ = time.Now()
		}
	})
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := c.Get(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel64", func(b *testing.B) {
		b.ReportAllocs()
		// RunParallel starts parallelism × GOMAXPROCS goroutines.
		b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := c.Get(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
