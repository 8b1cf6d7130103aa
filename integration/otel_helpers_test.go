package integration_test

import (
	"context"
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// otelSink is an OpenTelemetry SDK that keeps what the driver reports in
// memory: metrics for a manual reader, every ended span in a recorder.
type otelSink struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	mp     *sdkmetric.MeterProvider
	tp     *sdktrace.TracerProvider
}

// newOtelSink returns an SDK that the test shuts down when it ends.
func newOtelSink(t *testing.T) *otelSink {
	t.Helper()
	s := &otelSink{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	s.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(s.reader))
	s.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(s.spans))
	t.Cleanup(func() {
		ctx := context.Background()
		if err := s.tp.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := s.mp.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return s
}

// openDB opens a sql.DB through a connector for dsn that reports to s,
// with edit applied to its Config first. The DB keeps no idle connection,
// so that every query connects.
func (s *otelSink) openDB(t *testing.T, dsn string, edit func(*lakebase.Config)) (*lakebase.Connector, *sql.DB) {
	t.Helper()
	c := newConnector(t, dsn, func(cfg *lakebase.Config) {
		cfg.MeterProvider, cfg.TracerProvider = s.mp, s.tp
		if edit != nil {
			edit(cfg)
		}
	})
	db := sql.OpenDB(c)
	db.SetMaxIdleConns(0)
	t.Cleanup(func() { _ = db.Close() })
	return c, db
}

// newConnector returns a connector for dsn with edit applied to its Config;
// the caller closes it (closing a sql.DB opened on it does).
func newConnector(tb testing.TB, dsn string, edit func(*lakebase.Config)) *lakebase.Connector {
	tb.Helper()
	cfg, err := lakebase.ParseDSN(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	edit(cfg)
	c, err := lakebase.NewConnector(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// collect reads every metric.
func (s *otelSink) collect(t *testing.T) []metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := s.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var all []metricdata.Metrics
	for _, sm := range rm.ScopeMetrics {
		all = append(all, sm.Metrics...)
	}
	return all
}

// metric returns the metric called name, failing the test if there is none.
func (s *otelSink) metric(t *testing.T, name string) metricdata.Metrics {
	t.Helper()
	for _, m := range s.collect(t) {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("no metric %s", name)
	return metricdata.Metrics{}
}

// sum adds up the points of metric name whose attributes include want: a
// counter's values, or a histogram's counts.
func (s *otelSink) sum(t *testing.T, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	var n int64
	add := func(attrs attribute.Set, v int64) {
		if hasAll(attrs, want) {
			n += v
		}
	}
	switch data := s.metric(t, name).Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range data.DataPoints {
			add(p.Attributes, p.Value)
		}
	case metricdata.Histogram[float64]:
		for _, p := range data.DataPoints {
			add(p.Attributes, int64(p.Count))
		}
	default:
		t.Fatalf("metric %s is a %T, want a sum of int64 or a histogram of float64", name, data)
	}
	return n
}

// gauge returns the gauge name's one point, and false when it has none.
func (s *otelSink) gauge(t *testing.T, name string) (float64, bool) {
	t.Helper()
	for _, m := range s.collect(t) {
		if m.Name != name {
			continue
		}
		data, ok := m.Data.(metricdata.Gauge[float64])
		if !ok || len(data.DataPoints) != 1 {
			t.Fatalf("metric %s is %+v, want a gauge of one float64", name, m.Data)
		}
		return data.DataPoints[0].Value, true
	}
	return 0, false
}

// hasAll reports whether set holds every attribute of want.
func hasAll(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// named returns the ended spans called name, in the order they started.
func (s *otelSink) named(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, sp := range s.spans.Ended() {
		if sp.Name() == name {
			out = append(out, sp)
		}
	}
	slices.SortFunc(out, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	return out
}

// children returns the ended children of parent, in the order they started.
func (s *otelSink) children(parent sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, sp := range s.spans.Ended() {
		if sp.Parent().SpanID() == parent.SpanContext().SpanID() && sp.Parent().TraceID() == parent.SpanContext().TraceID() {
			out = append(out, sp)
		}
	}
	slices.SortFunc(out, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	return out
}

// byID returns the ended span with the context sc.
func (s *otelSink) byID(sc trace.SpanContext) sdktrace.ReadOnlySpan {
	for _, sp := range s.spans.Ended() {
		if sp.SpanContext().Equal(sc) {
			return sp
		}
	}
	return nil
}

// names are the names of spans.
func names(spans []sdktrace.ReadOnlySpan) []string {
	out := make([]string, len(spans))
	for i, sp := range spans {
		out[i] = sp.Name()
	}
	return out
}

// attr returns the span attribute key, and whether it is set.
func attr(sp sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range sp.Attributes() {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// failedConnects pings db, which must fail (the test says why), and returns
// the lakebase.connect spans of the attempt: more than one where
// database/sql retried.
func (s *otelSink) failedConnects(t *testing.T, db *sql.DB, why string) []sdktrace.ReadOnlySpan {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err == nil {
		t.Fatalf("ping succeeded %s", why)
	}
	connects := s.named("lakebase.connect")
	if len(connects) == 0 {
		t.Fatal("no lakebase.connect span")
	}
	return connects
}

// waitIdle waits until c has no credential fetch in progress, so that the
// spans and counts of a background refresh are in.
func waitIdle(t *testing.T, c *lakebase.Connector) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); c.Stats().Refreshing; {
		if time.Now().After(deadline) {
			t.Fatal("a credential fetch is still running after 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pingFor pings db once, then every interval until d has passed, failing
// the test on the first error, and returns the number of pings.
func pingFor(t *testing.T, db *sql.DB, d, interval time.Duration) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	end := time.Now().Add(d)
	for n := 1; ; n++ {
		if err := db.PingContext(ctx); err != nil {
			t.Fatalf("ping %d: %v", n, err)
		}
		if !time.Now().Before(end) {
			return n
		}
		time.Sleep(interval)
	}
}

// checkRetriedConnect checks the trace of a second connect whose first login
// was refused (28P01) and retried: one lakebase.login.retry event, the steps
// twice under it, the first login failed, the connect itself not.
func checkRetriedConnect(t *testing.T, sink *otelSink) {
	t.Helper()
	connects := sink.named("lakebase.connect")
	if len(connects) != 2 {
		t.Fatalf("%d connect spans, want 2", len(connects))
	}
	second := connects[1]
	events := second.Events()
	if len(events) != 1 || events[0].Name != "lakebase.login.retry" ||
		!hasAll(attribute.NewSet(events[0].Attributes...), []attribute.KeyValue{attribute.String("error.type", "28P01")}) {
		t.Errorf("the second connect's events are %+v, want one lakebase.login.retry with error.type 28P01", events)
	}
	want := []string{"lakebase.resolve", "lakebase.identity", "lakebase.mint", "lakebase.dial", "lakebase.login",
		"lakebase.resolve", "lakebase.identity", "lakebase.mint", "lakebase.dial", "lakebase.login"}
	children := sink.children(second)
	if got := names(children); !slices.Equal(got, want) {
		t.Fatalf("the second connect's children are %v, want %v", got, want)
	}
	checkFailed(t, children[4], "28P01")
	if st := second.Status(); st.Code == codes.Error {
		t.Errorf("the retried connect failed: %v", st)
	}
}

// checkConnectSpan checks connect span sp, the i-th of a test, of a login
// through gateway gw to the default instance: its five steps in order and
// the database semantic conventions' attributes. It returns the steps.
func checkConnectSpan(t *testing.T, sink *otelSink, i int, sp sdktrace.ReadOnlySpan, gw *lakebasetest.Gateway) []sdktrace.ReadOnlySpan {
	t.Helper()
	wantSteps := []string{"lakebase.resolve", "lakebase.identity", "lakebase.mint", "lakebase.dial", "lakebase.login"}
	children := sink.children(sp)
	if got := names(children); !slices.Equal(got, wantSteps) {
		t.Fatalf("connect %d has the children %v, want %v", i, got, wantSteps)
	}
	want := []attribute.KeyValue{
		attribute.String("db.system.name", "postgresql"),
		attribute.String("db.namespace", lakebase.DefaultDBName),
		attribute.String("lakebase.instance", lakebasetest.DefaultInstance),
		attribute.String("server.address", gw.Host()),
		attribute.Int("server.port", gw.Port()),
	}
	if set := attribute.NewSet(sp.Attributes()...); !hasAll(set, want) {
		t.Fatalf("connect %d has the attributes %v, want %v among them", i, sp.Attributes(), want)
	}
	return children
}
