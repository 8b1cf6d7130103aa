package telemetry

import (
	"context"
	"errors"
	"testing"
	"time"

	mnoop "go.opentelemetry.io/otel/metric/noop"
)

// Without providers, New turns instrumentation off: it returns nil, which
// every method takes for "off".
func TestNewWithoutProvidersIsOff(t *testing.T) {
	tel, err := New(Settings{DBName: "db", Instance: "i"})
	if err != nil || tel != nil {
		t.Fatalf("New without providers = %v, %v; want nil, nil", tel, err)
	}
}

// connectPath is what a Connect that finds everything cached asks of its
// instrumentation: the hot path, which must cost nothing when off.
func connectPath(tel *Telemetry, ctx context.Context) {
	start := time.Now()
	ctx, span := tel.StartConnect(ctx)
	_, end := tel.Step(ctx, SpanResolve)
	end(nil)
	tel.Resolved(ctx, "h", 5432)
	_, end = tel.Step(ctx, SpanIdentity)
	end(nil)
	tel.Identified(ctx, "u")
	_, end = tel.Step(ctx, SpanMint)
	end(nil)
	spans := tel.StartDial(ctx)
	if hook := spans.Hook(); hook != nil {
		hook(nil)
	}
	spans.End(nil)
	tel.EndConnect(ctx, span, start, nil, "")
}

// A nil *Telemetry is a no-op: each method hands back what it was given,
// or nothing, and changes nothing.
func TestNilTelemetryIsNoop(t *testing.T) {
	var tel *Telemetry
	ctx := context.WithValue(context.Background(), struct{}{}, "caller's")
	if got, span := tel.StartConnect(ctx); got != ctx || span != nil {
		t.Errorf("StartConnect = %v, %v; want the caller's context and no span", got, span)
	}
	if got, end := tel.Step(ctx, SpanMint); got != ctx || end == nil {
		t.Errorf("Step = %v; want the caller's context and an end function", got)
	} else {
		end(errors.New("boom"))
	}
	if got, end := tel.Lookup(ctx, nil, LookupHost); got != ctx || end == nil {
		t.Errorf("Lookup = %v; want the caller's context and an end function", got)
	} else {
		end(nil)
	}
	if d := tel.StartDial(ctx); d != nil || d.Hook() != nil {
		t.Errorf("StartDial = %v; want nil, without a hook", d)
	}
	if o := tel.CredentialObserver(); o != nil {
		t.Errorf("CredentialObserver = %v; want nil", o)
	}
	if err := tel.Observe(func() Observed { t.Error("a nil Telemetry read the stats"); return Observed{} }); err != nil {
		t.Errorf("Observe = %v", err)
	}
	tel.Resolved(ctx, "h", 1)
	tel.Identified(ctx, "u")
	tel.Retrying(ctx, "lakebase.login.retry", errors.New("boom"))
	tel.EndConnect(ctx, nil, time.Now(), errors.New("boom"), "mint")
	tel.Close()
	connectPath(tel, ctx)
}

// The hot path allocates nothing when instrumentation is off (a nil
// Telemetry), nor with metrics on a no-op meter and no tracer: a successful
// connect's point reuses the attribute set made once in New.
func TestHotPathDoesNotAllocate(t *testing.T) {
	noopMeter, err := New(Settings{MeterProvider: mnoop.NewMeterProvider(), DBName: "db", Instance: "i", ErrorType: func(error) string { return "x" }})
	if err != nil || noopMeter == nil || noopMeter.metrics == nil {
		t.Fatalf("New with a no-op meter = %v, %v", noopMeter, err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		tel  *Telemetry
	}{
		{"off", nil},
		{"no-op meter", noopMeter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, func() { connectPath(tc.tel, ctx) }); n != 0 {
				t.Errorf("a cached connect's instrumentation allocates %v times, want 0", n)
			}
		})
	}
}
