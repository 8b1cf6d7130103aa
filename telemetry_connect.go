package lakebase

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// The spans of a connect: one per Connect, with a child per step. The step
// names are ConnectError's.
const (
	spanConnect  = "lakebase.connect"
	spanResolve  = "lakebase.resolve"
	spanIdentity = "lakebase.identity"
	spanMint     = "lakebase.mint"
	spanDial     = "lakebase.dial"
	spanLogin    = "lakebase.login"
)

// noEnd is the end function of a step without a span.
func noEnd(error) {}

// startConnect starts the span of one Connect.
func (t *telemetry) startConnect(ctx context.Context) (context.Context, trace.Span) {
	if t == nil || t.tracer == nil {
		return ctx, nil
	}
	return t.tracer.Start(ctx, spanConnect, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(t.attrs...))
}

// endConnect ends the span of a Connect that returned err, and records its
// duration. cause is the error of the step that failed, which names it
// (err itself may be the context's).
func (t *telemetry) endConnect(ctx context.Context, span trace.Span, start time.Time, err, cause error) {
	if t == nil {
		return
	}
	var step attribute.KeyValue
	if err != nil {
		step = attrStep.String(failedStep(cause))
	}
	if span != nil {
		if err != nil {
			span.SetAttributes(step)
		}
		endSpan(span, err)
	}
	if m := t.metrics; m != nil {
		took := time.Since(start).Seconds()
		if err == nil {
			m.connects.Record(ctx, took, m.connectOK...)
			return
		}
		m.connects.Record(ctx, took, m.with(outcome(err), step, attrErrorType.String(errorType(err))))
	}
}

// failedStep is the step that err, a Connect's failure, names.
func failedStep(err error) string {
	var ce *ConnectError
	if errors.As(err, &ce) {
		return ce.Step
	}
	return "unknown"
}

// step starts the span of one step of a connect (spanResolve, say) and
// returns its context and the function that ends it with the step's error.
func (t *telemetry) step(ctx context.Context, name string) (context.Context, func(error)) {
	if t == nil || t.tracer == nil {
		return ctx, noEnd
	}
	ctx, span := t.tracer.Start(ctx, name)
	return ctx, func(err error) { endSpan(span, err) }
}

// resolved adds the host a connect dials to its span.
func (t *telemetry) resolved(ctx context.Context, hp hostPort) {
	if t == nil || t.tracer == nil {
		return
	}
	trace.SpanFromContext(ctx).SetAttributes(attrServerAddr.String(hp.host), attrServerPort.Int(int(hp.port)))
}

// identified adds the Postgres user to a connect's span, when the Config
// allows it: a person's user name is an e-mail address.
func (t *telemetry) identified(ctx context.Context, user string) {
	if t == nil || t.tracer == nil || !t.user {
		return
	}
	trace.SpanFromContext(ctx).SetAttributes(attrUser.String(user))
}

// retrying adds an event to a connect's span: the attempt failed with err
// and the connect tries again (name says why).
func (t *telemetry) retrying(ctx context.Context, name string, err error) {
	if t == nil || t.tracer == nil {
		return
	}
	trace.SpanFromContext(ctx).AddEvent(name, trace.WithAttributes(attrErrorType.String(errorType(err))))
}

// dialLogin are the spans of lib/pq's part of a connect: the dial (TCP, and
// TLS when the driver runs it) and then the login, split by the dialer's
// hook (loginParams.dialed).
type dialLogin struct {
	tracer trace.Tracer
	ctx    context.Context // the connect's

	mu      sync.Mutex
	span    trace.Span // the dial's, then the login's
	inLogin bool
}

// startDial starts the dial span; nil when there are no spans.
func (t *telemetry) startDial(ctx context.Context) *dialLogin {
	if t == nil || t.tracer == nil {
		return nil
	}
	_, span := t.tracer.Start(ctx, spanDial, trace.WithSpanKind(trace.SpanKindClient))
	return &dialLogin{tracer: t.tracer, ctx: ctx, span: span}
}

// hook is the dialer's callback; nil when there are no spans.
func (d *dialLogin) hook() func(error) {
	if d == nil {
		return nil
	}
	return d.dialed
}

// dialed ends the dial span and, when it worked, starts the login span.
// Only the first dial counts: a later one (a cancel request) is not the
// login's.
func (d *dialLogin) dialed(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inLogin || d.span == nil {
		return
	}
	endSpan(d.span, err)
	d.span = nil
	if err == nil {
		_, d.span = d.tracer.Start(d.ctx, spanLogin, trace.WithSpanKind(trace.SpanKindClient))
		d.inLogin = true
	}
}

// end ends the span in progress with the outcome of lib/pq's Connect.
func (d *dialLogin) end(err error) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.span != nil {
		endSpan(d.span, err)
		d.span = nil
	}
	d.inLogin = true // no span starts after the connect
}
