package telemetry

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	mnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tnoop "go.opentelemetry.io/otel/trace/noop"
)

// The tests' own OpenTelemetry providers: the API's no-op types, with what
// the package asks of them recorded. The module depends on the API only,
// and these small recorders are all the tests need of an SDK.

// record is what a recorder saw.
type record struct {
	mu          sync.Mutex
	tracers     []string       // the names tracers were asked for by
	meters      []string       // the names meters were asked for by
	instruments map[string]int // how many times each instrument was created, by name
	spans       []*recSpan     // every span started, in order
	points      []recPoint     // every measurement
	callbacks   int            // callbacks registered and not unregistered
	callback    metric.Callback
}

// recPoint is one measurement of an instrument.
type recPoint struct {
	name  string
	value float64
	attrs attribute.Set
}

func newRecord() *record { return &record{instruments: map[string]int{}} }

// tracerProvider and meterProvider are r's providers.
func (r *record) tracerProvider() trace.TracerProvider { return recTracerProvider{r: r} }
func (r *record) meterProvider() metric.MeterProvider  { return recMeterProvider{r: r} }

// named returns the spans started with name.
func (r *record) named(name string) []*recSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*recSpan
	for _, s := range r.spans {
		if s.name == name {
			out = append(out, s)
		}
	}
	return out
}

// measured returns the measurements of the instrument called name.
func (r *record) measured(name string) []recPoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []recPoint
	for _, p := range r.points {
		if p.name == name {
			out = append(out, p)
		}
	}
	return out
}

func (r *record) point(name string, value float64, attrs attribute.Set) {
	r.mu.Lock()
	r.points = append(r.points, recPoint{name, value, attrs})
	r.mu.Unlock()
}

type recTracerProvider struct {
	tnoop.TracerProvider
	r *record
}

func (p recTracerProvider) Tracer(name string, _ ...trace.TracerOption) trace.Tracer {
	p.r.mu.Lock()
	p.r.tracers = append(p.r.tracers, name)
	p.r.mu.Unlock()
	return recTracer{r: p.r}
}

type recTracer struct {
	tnoop.Tracer
	r *record
}

func (t recTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	cfg := trace.NewSpanStartConfig(opts...)
	s := &recSpan{name: name, kind: cfg.SpanKind(), start: cfg.Attributes(), attrs: cfg.Attributes(), newRoot: cfg.NewRoot(), links: len(cfg.Links())}
	if parent, ok := trace.SpanFromContext(ctx).(*recSpan); ok && !cfg.NewRoot() {
		s.parent = parent
	}
	t.r.mu.Lock()
	t.r.spans = append(t.r.spans, s)
	t.r.mu.Unlock()
	return trace.ContextWithSpan(ctx, s), s
}

// recSpan is a span that keeps what was said of it.
type recSpan struct {
	tnoop.Span
	name    string
	kind    trace.SpanKind
	start   []attribute.KeyValue // the attributes it started with
	parent  *recSpan             // nil: a root
	newRoot bool
	links   int

	mu     sync.Mutex
	attrs  []attribute.KeyValue
	code   codes.Code
	desc   string
	events []string
	ended  int
}

func (s *recSpan) IsRecording() bool { return true }

func (s *recSpan) SetAttributes(kv ...attribute.KeyValue) {
	s.mu.Lock()
	s.attrs = append(s.attrs, kv...)
	s.mu.Unlock()
}

func (s *recSpan) SetStatus(code codes.Code, desc string) {
	s.mu.Lock()
	s.code, s.desc = code, desc
	s.mu.Unlock()
}

func (s *recSpan) AddEvent(name string, opts ...trace.EventOption) {
	cfg := trace.NewEventConfig(opts...)
	s.mu.Lock()
	s.events = append(s.events, name)
	s.attrs = append(s.attrs, cfg.Attributes()...) // an event's attributes count as the span's, for the name checks
	s.mu.Unlock()
}

func (s *recSpan) End(...trace.SpanEndOption) {
	s.mu.Lock()
	s.ended++
	s.mu.Unlock()
}

// attr returns the value of key on s.
func (s *recSpan) attr(key attribute.Key) (attribute.Value, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.attrs) - 1; i >= 0; i-- {
		if s.attrs[i].Key == key {
			return s.attrs[i].Value, true
		}
	}
	return attribute.Value{}, false
}

type recMeterProvider struct {
	mnoop.MeterProvider
	r *record
}

func (p recMeterProvider) Meter(name string, _ ...metric.MeterOption) metric.Meter {
	p.r.mu.Lock()
	p.r.meters = append(p.r.meters, name)
	p.r.mu.Unlock()
	return recMeter{r: p.r}
}

type recMeter struct {
	mnoop.Meter
	r *record
}

func (m recMeter) created(name string) {
	m.r.mu.Lock()
	m.r.instruments[name]++
	m.r.mu.Unlock()
}

func (m recMeter) Int64Counter(name string, _ ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	m.created(name)
	return recInt64Counter{name: name, r: m.r}, nil
}

func (m recMeter) Float64Histogram(name string, _ ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	m.created(name)
	return recFloat64Histogram{name: name, r: m.r}, nil
}

func (m recMeter) Int64ObservableCounter(name string, _ ...metric.Int64ObservableCounterOption) (metric.Int64ObservableCounter, error) {
	m.created(name)
	return recInt64Observable{name: name}, nil
}

func (m recMeter) Int64ObservableUpDownCounter(name string, _ ...metric.Int64ObservableUpDownCounterOption) (metric.Int64ObservableUpDownCounter, error) {
	m.created(name)
	return recInt64UpDown{name: name}, nil
}

func (m recMeter) Float64ObservableGauge(name string, _ ...metric.Float64ObservableGaugeOption) (metric.Float64ObservableGauge, error) {
	m.created(name)
	return recFloat64Observable{name: name}, nil
}

func (m recMeter) RegisterCallback(f metric.Callback, _ ...metric.Observable) (metric.Registration, error) {
	m.r.mu.Lock()
	m.r.callbacks++
	m.r.callback = f
	m.r.mu.Unlock()
	return recRegistration{r: m.r}, nil
}

// registered is how many callbacks are registered.
func (r *record) registered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.callbacks
}

// collect runs the registered callback, as a reader does, and records what
// it observes.
func (r *record) collect() error {
	r.mu.Lock()
	f := r.callback
	r.mu.Unlock()
	if f == nil {
		return nil
	}
	return f(context.Background(), recObserver{r: r})
}

type recRegistration struct {
	mnoop.Registration
	r *record
}

func (g recRegistration) Unregister() error {
	g.r.mu.Lock()
	g.r.callbacks--
	g.r.callback = nil
	g.r.mu.Unlock()
	return nil
}

type recObserver struct {
	mnoop.Observer
	r *record
}

func (o recObserver) ObserveInt64(obs metric.Int64Observable, v int64, opts ...metric.ObserveOption) {
	var name string
	switch obs := obs.(type) {
	case recInt64Observable:
		name = obs.name
	case recInt64UpDown:
		name = obs.name
	}
	o.r.point(name, float64(v), metric.NewObserveConfig(opts).Attributes())
}

func (o recObserver) ObserveFloat64(obs metric.Float64Observable, v float64, opts ...metric.ObserveOption) {
	o.r.point(obs.(recFloat64Observable).name, v, metric.NewObserveConfig(opts).Attributes())
}

type recInt64Counter struct {
	mnoop.Int64Counter
	name string
	r    *record
}

func (c recInt64Counter) Add(_ context.Context, v int64, opts ...metric.AddOption) {
	c.r.point(c.name, float64(v), metric.NewAddConfig(opts).Attributes())
}

type recFloat64Histogram struct {
	mnoop.Float64Histogram
	name string
	r    *record
}

func (h recFloat64Histogram) Record(_ context.Context, v float64, opts ...metric.RecordOption) {
	h.r.point(h.name, v, metric.NewRecordConfig(opts).Attributes())
}

type recInt64Observable struct {
	mnoop.Int64ObservableCounter
	name string
}

type recInt64UpDown struct {
	mnoop.Int64ObservableUpDownCounter
	name string
}

type recFloat64Observable struct {
	mnoop.Float64ObservableGauge
	name string
}
