package telemetry

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// durationBuckets are the bucket boundaries, in seconds, of the latency
// histograms: from a cached connect on one machine to a mint that waited
// for a throttled workspace.
var durationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// metrics are a connector's instruments, created once in NewConnector. The
// counters that the connector's Stats already keeps (waits, login retries) and the remaining
// lifetime are observed from them (Observed) when the reader collects, so that they
// add nothing to the paths of a connect.
type metrics struct {
	mints         metric.Int64Counter
	mintDuration  metric.Float64Histogram
	refreshFailed metric.Int64Counter
	lookups       metric.Int64Counter
	connects      metric.Float64Histogram
	waits         metric.Int64ObservableCounter
	loginRetries  metric.Int64ObservableCounter
	remaining     metric.Float64ObservableGauge

	meter metric.Meter
	attrs []attribute.KeyValue // the connector's target
	// connectOK is the option set of a successful connect, made once: the
	// common case allocates no attribute set.
	connectOK    []metric.RecordOption
	registration metric.Registration // of the observing callback; set by observe
}

// newMetrics creates the instruments on meter.
func newMetrics(meter metric.Meter, attrs []attribute.KeyValue) (*metrics, error) {
	m := &metrics{meter: meter, attrs: attrs}
	// The instruments, their names, units and descriptions: the driver's
	// public contract (docs/OBSERVABILITY.md). Durations are histograms in
	// seconds, over durationBuckets.
	for _, in := range []struct {
		dst              any // a pointer to one of m's instruments
		name, unit, desc string
	}{
		{&m.mints, "lakebase.credential.mints", "{mint}", "Credentials obtained from the workspace (or the TokenSource), by lakebase.outcome."},
		{&m.mintDuration, "lakebase.credential.mint.duration", "s", "How long obtaining a credential took, by lakebase.outcome."},
		{&m.refreshFailed, "lakebase.credential.refresh.failures", "{failure}", "Background refreshes that failed while the current credential was still handed out."},
		{&m.lookups, "lakebase.lookups", "{lookup}", "Workspace lookups (workspace login, host, identity, target), by lakebase.lookup and lakebase.outcome."},
		{&m.connects, "lakebase.connect.duration", "s", "How long Connect took, by lakebase.outcome, and for failures the lakebase.step that failed and the error.type."},
		{&m.waits, "lakebase.credential.waits", "{wait}", "Connects (and Credential calls) that found no usable credential and waited for one."},
		{&m.loginRetries, "lakebase.login.retries", "{retry}", "Logins retried with a new credential after the server refused the cached one."},
		{&m.remaining, "lakebase.credential.remaining_lifetime", "s", "Time until the current credential expires; below the refresh window, refreshes are failing."},
	} {
		unit, desc := metric.WithUnit(in.unit), metric.WithDescription(in.desc)
		var err error
		switch dst := in.dst.(type) {
		case *metric.Int64Counter:
			*dst, err = meter.Int64Counter(in.name, unit, desc)
		case *metric.Float64Histogram:
			*dst, err = meter.Float64Histogram(in.name, unit, desc, metric.WithExplicitBucketBoundaries(durationBuckets...))
		case *metric.Int64ObservableCounter:
			*dst, err = meter.Int64ObservableCounter(in.name, unit, desc)
		case *metric.Float64ObservableGauge:
			*dst, err = meter.Float64ObservableGauge(in.name, unit, desc)
		}
		if err != nil {
			return nil, err
		}
	}
	m.connectOK = []metric.RecordOption{m.with(attrOutcome.String(outcomeSuccess))}
	return m, nil
}

// with is the measurement option of the connector's attributes and extra.
func (m *metrics) with(extra ...attribute.KeyValue) metric.MeasurementOption {
	kvs := make([]attribute.KeyValue, 0, len(m.attrs)+len(extra))
	return metric.WithAttributeSet(attribute.NewSet(append(append(kvs, m.attrs...), extra...)...))
}

// observe registers the callback that reports what stats tells, until
// unobserve.
func (m *metrics) observe(stats func() Observed) error {
	all := m.with()
	reg, err := m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := stats()
		o.ObserveInt64(m.waits, int64(s.CredentialWaits), all)
		o.ObserveInt64(m.loginRetries, int64(s.LoginRetries), all)
		if !s.CredentialExpiry.IsZero() {
			o.ObserveFloat64(m.remaining, time.Until(s.CredentialExpiry).Seconds(), all)
		}
		return nil
	}, m.waits, m.loginRetries, m.remaining)
	m.registration = reg
	return err
}

// unobserve unregisters the callback, so that a closed connector is no
// longer reported (nor kept alive by its meter).
func (m *metrics) unobserve() {
	if m.registration != nil {
		_ = m.registration.Unregister()
	}
}

// outcome is the lakebase.outcome of err.
func outcome(err error) attribute.KeyValue {
	if err != nil {
		return attrOutcome.String(outcomeFailure)
	}
	return attrOutcome.String(outcomeSuccess)
}
