// Package telemetry is the driver's OpenTelemetry instrumentation: the spans
// of each connect and of its steps, of the workspace lookups and of the
// credential fetches, and the driver's metrics. A nil *Telemetry is
// instrumentation turned off: every method returns at a nil check, so that
// it costs nothing.
//
// The names of spans, attributes and instruments are the driver's public
// contract (docs/OBSERVABILITY.md); the error.type of a failure is named by
// the driver (Settings.ErrorType), never by an error's text.
package telemetry

import (
	"time"

	"github.com/lakebase-go/lakebase/internal/credcache"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// instrumentationName names the driver's meter and tracer.
const instrumentationName = "github.com/lakebase-go/lakebase"

// Attribute keys. The first ones are OpenTelemetry's database semantic
// conventions; the lakebase.* ones are the driver's own.
const (
	attrDBSystem    = attribute.Key("db.system.name")
	attrDBNamespace = attribute.Key("db.namespace")
	attrServerAddr  = attribute.Key("server.address")
	attrServerPort  = attribute.Key("server.port")
	attrErrorType   = attribute.Key("error.type")
	attrInstance    = attribute.Key("lakebase.instance")
	attrEndpoint    = attribute.Key("lakebase.endpoint")
	attrUser        = attribute.Key("lakebase.user")
	attrOutcome     = attribute.Key("lakebase.outcome")
	attrStep        = attribute.Key("lakebase.step")
	attrLookup      = attribute.Key("lakebase.lookup")
	attrRefresh     = attribute.Key("lakebase.credential.refresh")
	attrLifetime    = attribute.Key("lakebase.credential.lifetime") // seconds
)

// Values of lakebase.outcome.
const (
	outcomeSuccess = "success"
	outcomeFailure = "failure"
)

// Settings say what to instrument and how to describe the connector.
type Settings struct {
	// MeterProvider and TracerProvider receive the metrics and the spans;
	// nil turns each off, unless Global is set.
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
	// Global takes OpenTelemetry's global providers for those left nil.
	Global bool
	// User puts the Postgres user on the connect spans.
	User bool
	// DBName and one of Instance, Endpoint, or Host and Port (with its
	// default filled in), describe the connector's target on every span and
	// metric.
	DBName, Instance, Endpoint, Host string
	Port                             int
	// ErrorType names the kind of an error for the error.type attribute: a
	// small, fixed set of values, never the error's text.
	ErrorType func(error) string
}

// Telemetry is a connector's instrumentation, built once by New. It is nil
// when the Settings give no provider.
type Telemetry struct {
	tracer    trace.Tracer // nil: no spans
	metrics   *metrics     // nil: no metrics
	user      bool         // spans carry the Postgres user
	errorType func(error) string
	// attrs describe the connector's target, for every span and metric:
	// db.system.name, db.namespace, and the instance, endpoint or host.
	attrs []attribute.KeyValue
}

// New builds the instrumentation that s asks for, or returns nil.
func New(s Settings) (*Telemetry, error) {
	mp, tp := s.MeterProvider, s.TracerProvider
	if s.Global {
		if mp == nil {
			mp = otel.GetMeterProvider()
		}
		if tp == nil {
			tp = otel.GetTracerProvider()
		}
	}
	if mp == nil && tp == nil {
		return nil, nil
	}
	t := &Telemetry{user: s.User, errorType: s.ErrorType, attrs: targetAttrs(s)}
	if tp != nil {
		t.tracer = tp.Tracer(instrumentationName)
	}
	if mp != nil {
		m, err := newMetrics(mp.Meter(instrumentationName), t.attrs)
		if err != nil {
			return nil, err
		}
		t.metrics = m
	}
	return t, nil
}

// targetAttrs describe s's target. A host written in the Config is known
// now; a looked-up one joins the connect spans once resolved.
func targetAttrs(s Settings) []attribute.KeyValue {
	attrs := []attribute.KeyValue{attrDBSystem.String("postgresql"), attrDBNamespace.String(s.DBName)}
	switch {
	case s.Instance != "":
		attrs = append(attrs, attrInstance.String(s.Instance))
	case s.Endpoint != "":
		attrs = append(attrs, attrEndpoint.String(s.Endpoint))
	case s.Host != "":
		attrs = append(attrs, attrServerAddr.String(s.Host), attrServerPort.Int(s.Port))
	}
	return attrs
}

// Observed is what the metrics read from the connector when the reader
// collects.
type Observed struct {
	CredentialWaits, LoginRetries uint64
	CredentialExpiry              time.Time // zero: no credential
}

// Observe starts reporting the metrics read from stats.
func (t *Telemetry) Observe(stats func() Observed) error {
	if t == nil || t.metrics == nil {
		return nil
	}
	return t.metrics.observe(stats)
}

// Close stops reporting the connector's metrics.
func (t *Telemetry) Close() {
	if t != nil && t.metrics != nil {
		t.metrics.unobserve()
	}
}

// CredentialObserver returns the observer of the connector's credential
// cache, or nil when off.
func (t *Telemetry) CredentialObserver() credcache.Observer {
	if t == nil {
		return nil
	}
	return credentialObserver{t}
}

// endSpan ends span, marking it failed with err's error.type, never with
// err's text.
func (t *Telemetry) endSpan(span trace.Span, err error) {
	if err != nil {
		et := t.errorType(err)
		span.SetAttributes(attrErrorType.String(et))
		span.SetStatus(codes.Error, et)
	}
	span.End()
}
