package telemetry

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// The spans of a connect: one per Connect, with a child per step. The step
// names are the driver's ConnectError's.
const (
	spanConnect  = "lakebase.connect"
	SpanResolve  = "lakebase.resolve"  // the step that finds the host
	SpanIdentity = "lakebase.identity" // the step that learns the Postgres user
	SpanMint     = "lakebase.mint"     // the step that takes a credential
	spanDial     = "lakebase.dial"
	spanLogin    = "lakebase.login"
)

// noEnd is the end function of a step without a span.
func noEnd(error) {}

// StartConnect starts the span of one Connect.
func (t *Telemetry) StartConnect(ctx context.Context) (context.Context, trace.Span) {
	if t == nil || t.tracer == nil {
		return ctx, nil
	}
	return t.tracer.Start(ctx, spanConnect, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(t.attrs...))
}

// EndConnect ends the span of a Connect that returned err, and records its
// duration. failed is the step that failed (err itself may be the
// context's, which names none).
func (t *Telemetry) EndConnect(ctx context.Context, span trace.Span, start time.Time, err error, failed string) {
	if t == nil {
		return
	}
	var step attribute.KeyValue
	if err != nil {
		step = attrStep.String(failed)
	}
	if span != nil {
		if err != nil {
			span.SetAttributes(step)
		}
		t.endSpan(span, err)
	}
	if m := t.metrics; m != nil {
		took := time.Since(start).Seconds()
		if err == nil {
			m.connects.Record(ctx, took, m.connectOK...)
			return
		}
		m.connects.Record(ctx, took, m.with(outcome(err), step, attrErrorType.String(t.errorType(err))))
	}
}

// Step starts the span of one step of a connect (SpanResolve, say) and
// returns its context and the function that ends it with the step's error.
func (t *Telemetry) Step(ctx context.Context, name string) (context.Context, func(error)) {
	if t == nil || t.tracer == nil {
		return ctx, noEnd
	}
	ctx, span := t.tracer.Start(ctx, name)
	return ctx, func(err error) { t.endSpan(span, err) }
}

// Resolved adds the host and port a connect dials to its span.
func (t *Telemetry) Resolved(ctx context.Context, host string, port int) {
	if t == nil || t.tracer == nil {
		return
	}
	trace.SpanFromContext(ctx).SetAttributes(attrServerAddr.String(host), attrServerPort.Int(port))
}

// Identified adds the Postgres user to a connect's span, when the Config
// allows it: a person's user name is an e-mail address.
func (t *Telemetry) Identified(ctx context.Context, user string) {
	if t == nil || t.tracer == nil || !t.user {
		return
	}
	trace.SpanFromContext(ctx).SetAttributes(attrUser.String(user))
}

// Retrying adds an event to a connect's span: the attempt failed with err
// and the connect tries again (name says why).
func (t *Telemetry) Retrying(ctx context.Context, name string, err error) {
	if t == nil || t.tracer == nil {
		return
	}
	trace.SpanFromContext(ctx).AddEvent(name, trace.WithAttributes(attrErrorType.String(t.errorType(err))))
}

// DialLogin are the spans of the login's part of a connect: the dial (TCP,
// and TLS when the driver runs it) and then the login, split by the
// dialer's hook (see Hook).
type DialLogin struct {
	t   *Telemetry
	ctx context.Context // the connect's

	mu      sync.Mutex
	span    trace.Span // the dial's, then the login's
	inLogin bool
}

// StartDial starts the dial span; nil when there are no spans.
func (t *Telemetry) StartDial(ctx context.Context) *DialLogin {
	if t == nil || t.tracer == nil {
		return nil
	}
	_, span := t.tracer.Start(ctx, spanDial, trace.WithSpanKind(trace.SpanKindClient))
	return &DialLogin{t: t, ctx: ctx, span: span}
}

// Hook is the dialer's callback, called once the server is reached; nil
// when there are no spans.
func (d *DialLogin) Hook() func(error) {
	if d == nil {
		return nil
	}
	return d.dialed
}

// dialed ends the dial span and, when it worked, starts the login span.
// Only the first dial counts: a later one (a cancel request) is not the
// login's.
func (d *DialLogin) dialed(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inLogin || d.span == nil {
		return
	}
	d.t.endSpan(d.span, err)
	d.span = nil
	if err == nil {
		_, d.span = d.t.tracer.Start(d.ctx, spanLogin, trace.WithSpanKind(trace.SpanKindClient))
		d.inLogin = true
	}
}

// End ends the span in progress with the outcome of the login.
func (d *DialLogin) End(err error) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.span != nil {
		d.t.endSpan(d.span, err)
		d.span = nil
	}
	d.inLogin = true // no span starts after the connect
}
