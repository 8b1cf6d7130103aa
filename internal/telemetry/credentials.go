package telemetry

import (
	"context"
	"errors"
	"time"

	"github.com/lakebase-go/lakebase/internal/credcache"
	"go.opentelemetry.io/otel/trace"
)

// spanFetch is the span of one credential fetch: a mint, or a call of the
// TokenSource.
const spanFetch = "lakebase.credential.fetch"

// credentialObserver reports a connector's credential fetches: a span for
// each, and the mint metrics.
type credentialObserver struct{ t *Telemetry }

var _ credcache.Observer = credentialObserver{}

// FetchStarted starts the fetch's span. A fetch that connects wait for is a
// child of the mint step of the connect that started it. A background
// refresh works for the connector, not for the connect that happened to
// notice the refresh window: it is a trace of its own, linked to that
// connect.
func (o credentialObserver) FetchStarted(ctx context.Context, refresh bool) context.Context {
	if o.t.tracer == nil {
		return ctx
	}
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(o.t.attrs...),
		trace.WithAttributes(attrRefresh.Bool(refresh)),
	}
	if refresh {
		opts = append(opts, trace.WithNewRoot(), trace.WithLinks(trace.LinkFromContext(ctx)))
	}
	ctx, _ = o.t.tracer.Start(ctx, spanFetch, opts...)
	return ctx
}

// FetchEnded ends the fetch's span and counts the fetch. A fetch stopped
// by Close is not counted.
func (o credentialObserver) FetchEnded(ctx context.Context, refresh bool, expiry time.Time, err error, took time.Duration) {
	if o.t.tracer != nil {
		span := trace.SpanFromContext(ctx)
		if err == nil && !expiry.IsZero() {
			span.SetAttributes(attrLifetime.Int64(int64(time.Until(expiry).Seconds())))
		}
		o.t.endSpan(span, err)
	}
	m := o.t.metrics
	if m == nil || errors.Is(err, credcache.ErrClosed) {
		return
	}
	with := m.with(outcome(err))
	m.mints.Add(ctx, 1, with)
	m.mintDuration.Record(ctx, took.Seconds(), with)
	if refresh && err != nil {
		m.refreshFailed.Add(ctx, 1, m.with())
	}
}
