package integration_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"strings"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// The driver reports to the OpenTelemetry SDK it is given: here one that
// keeps spans and metrics in memory, against the test kit. A first connect
// looks up the host, logs in to the workspace and mints; each step is a
// span under the connect's.
func Example_openTelemetry() {
	ctx := context.Background()
	kit, err := lakebasetest.Start(ctx, lakebasetest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer kit.Close()

	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(ctx)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(ctx)

	cfg, err := lakebase.ParseDSN(kit.DSNs().M2M)
	if err != nil {
		log.Fatal(err)
	}
	cfg.TracerProvider, cfg.MeterProvider = tp, mp
	connector, err := lakebase.NewConnector(cfg)
	if err != nil {
		log.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		log.Fatal(err)
	}

	children := map[string]int{}
	for _, s := range spans.Ended() { // children end before their parents
		if s.Parent().IsValid() {
			children[s.Parent().SpanID().String()]++
		}
	}
	for _, s := range spans.Ended() {
		if s.Name() == "lakebase.connect" {
			fmt.Println(s.Name(), "has", children[s.SpanContext().SpanID().String()], "steps")
		}
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		log.Fatal(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if strings.HasPrefix(m.Name, "lakebase.credential.mints") {
			fmt.Println(m.Name, m.Data.(metricdata.Sum[int64]).DataPoints[0].Value)
		}
	}
	// Output:
	// lakebase.connect has 5 steps
	// lakebase.credential.mints 1
}
