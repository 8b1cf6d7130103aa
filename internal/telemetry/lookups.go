package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/trace"
)

// Kinds of lookup, as the lakebase.lookup attribute and the lookup spans
// (lakebase.lookup.<kind>) name them.
const (
	LookupWorkspace = "workspace" // the workspace login: the SDK client
	LookupHost      = "host"      // the instance's or endpoint's host
	LookupIdentity  = "identity"  // the identity's user name
	LookupTarget    = "target"    // the instance or endpoint serving a host
)

// Lookup starts the span of one lookup of kind, a child of parent (the span
// of the connect step that started it, though it runs detached from that
// connect), and returns its context and the function that ends it and
// counts it.
func (t *Telemetry) Lookup(ctx context.Context, parent trace.Span, kind string) (context.Context, func(error)) {
	if t == nil {
		return ctx, noEnd
	}
	var span trace.Span
	if t.tracer != nil {
		ctx, span = t.tracer.Start(trace.ContextWithSpan(ctx, parent), "lakebase.lookup."+kind,
			trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrLookup.String(kind)))
	}
	return ctx, func(err error) {
		if span != nil {
			t.endSpan(span, err)
		}
		if m := t.metrics; m != nil {
			m.lookups.Add(ctx, 1, m.with(attrLookup.String(kind), outcome(err)))
		}
	}
}
