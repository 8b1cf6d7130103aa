package integration_test

import (
	"context"
	"database/sql/driver"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// BenchmarkConnectTelemetry compares a connect with OpenTelemetry on (the
// SDK as a service would run it: every span sampled and batched to an
// exporter, every metric aggregated for a reader) with the same connect off,
// in one run: each iteration connects once with each, in a random order,
// through the kit's gateway with a cached credential. It reports the median
// of the per-iteration ratios (on/off; the target is at most 1.02) and each
// side's median latency, so that a machine whose load comes and goes moves
// both alike, and how many more allocations a connect makes when on.
//
//	cd integration && go test -run '^$' -bench ConnectTelemetry -benchtime 400x
func BenchmarkConnectTelemetry(b *testing.B) {
	kit := lakebasetest.New(b, lakebasetest.Options{})
	ctx := context.Background()
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardSpans{}))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() {
		_ = tp.Shutdown(ctx)
		_ = mp.Shutdown(ctx)
	})
	connector := func(on bool) driver.Connector {
		c := newConnector(b, kit.DSNs().M2M, func(cfg *lakebase.Config) {
			if on {
				cfg.TracerProvider, cfg.MeterProvider = tp, mp
			}
		})
		b.Cleanup(func() { _ = c.Close() })
		return c
	}
	sides := [2]driver.Connector{connector(false), connector(true)}
	gw := kit.InstanceGateway()
	connect := func(c driver.Connector) time.Duration {
		start := time.Now()
		conn, err := c.Connect(ctx)
		took := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		_ = conn.Close()
		// Let the gateway end the session, so that one side's close does
		// not slow the other's connect.
		for deadline := time.Now().Add(time.Second); gw.Stats().Live > 0 && time.Now().Before(deadline); {
			time.Sleep(100 * time.Microsecond)
		}
		return took
	}
	for _, c := range sides { // warm: lookups and the first credential
		connect(c)
	}

	var off, on, ratios []float64
	for b.Loop() {
		var took [2]time.Duration
		for _, i := range rand.Perm(2) {
			took[i] = connect(sides[i])
		}
		off, on = append(off, float64(took[0])), append(on, float64(took[1]))
		ratios = append(ratios, float64(took[1])/float64(took[0]))
	}
	b.ReportMetric(median(ratios), "on/off")
	b.ReportMetric(median(off), "off-ns/connect")
	b.ReportMetric(median(on), "on-ns/connect")
	b.StopTimer()
	b.ReportMetric(allocsPerConnect(func() { connect(sides[1]) })-allocsPerConnect(func() { connect(sides[0]) }), "extra-allocs/connect")
}

// allocsPerConnect returns the allocations of the process per call of
// connect, over 20 calls: the gateway's part is the same for both sides.
func allocsPerConnect(connect func()) float64 {
	const n = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		connect()
	}
	runtime.ReadMemStats(&after)
	return math.Round(float64(after.Mallocs-before.Mallocs) / n)
}

// median returns the middle of vs.
func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// discardSpans is an exporter that drops what the batcher hands it.
type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }
