package integration_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"go.opentelemetry.io/otel"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Off by default: with OpenTelemetry's global providers set, a connector
// reports nothing until its Config asks for them with GlobalTelemetry. Not
// parallel: it sets the global providers.
func TestTelemetryGlobalOnlyWhenAsked(t *testing.T) {
	kit := lakebasetest.New(t, lakebasetest.Options{})
	sink := newOtelSink(t)
	otel.SetTracerProvider(sink.tp)
	otel.SetMeterProvider(sink.mp)
	t.Cleanup(func() {
		otel.SetTracerProvider(tracenoop.NewTracerProvider())
		otel.SetMeterProvider(metricnoop.NewMeterProvider())
	})

	connectOnce := func(global bool) {
		db := sql.OpenDB(newConnector(t, kit.DSNs().M2M, func(cfg *lakebase.Config) { cfg.GlobalTelemetry = global }))
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
	}

	connectOnce(false)
	if n := len(sink.spans.Ended()); n != 0 {
		t.Errorf("without GlobalTelemetry: %d spans, want none", n)
	}
	if ms := sink.collect(t); len(ms) != 0 {
		t.Errorf("without GlobalTelemetry: %d metrics, want none", len(ms))
	}
	connectOnce(true)
	if n := len(sink.named("lakebase.connect")); n != 1 {
		t.Errorf("with GlobalTelemetry: %d lakebase.connect spans, want 1", n)
	}
	if got := sink.sum(t, "lakebase.credential.mints", success); got != 1 {
		t.Errorf("with GlobalTelemetry: lakebase.credential.mints{success} = %d, want 1", got)
	}
}
