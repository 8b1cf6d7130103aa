package lakebase

import (
	"fmt"

	"github.com/lakebase-go/lakebase/internal/credcache"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
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

// telemetry is a connector's OpenTelemetry instrumentation, built once in
// NewConnector. It is nil when the Config gives no provider: every method
// then returns at a nil check, so that instrumentation off costs nothing.
type telemetry struct {
	tracer  trace.Tracer // nil: no spans
	metrics *metrics     // nil: no metrics
	user    bool         // spans carry the Postgres user
	// attrs describe the connector's target, for every span and metric:
	// db.system.name, db.namespace, and the instance, endpoint or host.
	attrs []attribute.KeyValue
}

// newTelemetry builds the instrumentation that cfg asks for, or returns nil.
func newTelemetry(cfg *Config) (*telemetry, error) {
	mp, tp := cfg.MeterProvider, cfg.TracerProvider
	if cfg.GlobalTelemetry {
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
	t := &telemetry{user: cfg.TelemetryUser, attrs: targetAttrs(cfg)}
	if tp != nil {
		t.tracer = tp.Tracer(instrumentationName)
	}
	if mp != nil {
		m, err := newMetrics(mp.Meter(instrumentationName), t.attrs)
		if err != nil {
			return nil, fmt.Errorf("%w: telemetry: %w", ErrInvalidDSN, err)
		}
		t.metrics = m
	}
	return t, nil
}

// targetAttrs describe cfg's target. A host written in the Config is known
// now; a looked-up one joins the connect spans once resolved.
func targetAttrs(cfg *Config) []attribute.KeyValue {
	attrs := []attribute.KeyValue{attrDBSystem.String("postgresql"), attrDBNamespace.String(cfg.DBName)}
	switch {
	case cfg.Instance != "":
		attrs = append(attrs, attrInstance.String(cfg.Instance))
	case cfg.Endpoint != "":
		attrs = append(attrs, attrEndpoint.String(cfg.Endpoint))
	case cfg.Host != "":
		port := cfg.Port
		if port == 0 {
			port = DefaultPort
		}
		attrs = append(attrs, attrServerAddr.String(cfg.Host), attrServerPort.Int(port))
	}
	return attrs
}

// observe starts reporting the metrics read from stats.
func (t *telemetry) observe(stats func() Stats) error {
	if t == nil || t.metrics == nil {
		return nil
	}
	if err := t.metrics.observe(stats); err != nil {
		return fmt.Errorf("%w: telemetry: %w", ErrInvalidDSN, err)
	}
	return nil
}

// close stops reporting the connector's metrics.
func (t *telemetry) close() {
	if t != nil && t.metrics != nil {
		t.metrics.unobserve()
	}
}

// credentialObserver returns the observer of the connector's credential
// cache, or nil when off.
func (t *telemetry) credentialObserver() credcache.Observer {
	if t == nil {
		return nil
	}
	return credentialObserver{t}
}
