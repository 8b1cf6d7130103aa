package telemetry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// semconvKeys are the attribute names that OpenTelemetry's semantic
// conventions give the driver (database client spans and metrics, and
// errors); every other attribute is the driver's own, under lakebase.
var semconvKeys = map[attribute.Key]bool{
	"db.system.name": true, "db.namespace": true, "server.address": true, "server.port": true, "error.type": true,
}

// checkKeys fails the test for an attribute named neither by the semantic
// conventions nor under lakebase., such as the retired db.system or
// net.peer.name.
func checkKeys(t *testing.T, what string, kvs []attribute.KeyValue) {
	t.Helper()
	for _, kv := range kvs {
		if !semconvKeys[kv.Key] && !strings.HasPrefix(string(kv.Key), "lakebase.") {
			t.Errorf("%s has the attribute %s, neither a semantic convention's nor the driver's own", what, kv.Key)
		}
	}
}

// wantAttrs fails the test unless kvs hold every one of want.
func wantAttrs(t *testing.T, what string, kvs []attribute.KeyValue, want ...attribute.KeyValue) {
	t.Helper()
	set := attribute.NewSet(kvs...)
	for _, w := range want {
		if v, ok := set.Value(w.Key); !ok || v != w.Value {
			t.Errorf("%s: %s = %v (set: %t), want %v", what, w.Key, v.Emit(), ok, w.Value.Emit())
		}
	}
}

// A connect's span and its metric point describe the database by
// OpenTelemetry's database semantic conventions (db.system.name
// "postgresql", db.namespace, server.address and server.port), the target
// by the driver's lakebase.instance or lakebase.endpoint, and a failure by
// error.type and lakebase.step, never by the error's text; the user only
// when asked.
func TestConnectAttributes(t *testing.T) {
	const secretText = "password authentication failed for user person@example.com"
	for _, tc := range []struct {
		name   string
		s      Settings
		target []attribute.KeyValue
	}{
		{"instance", Settings{DBName: "shop", Instance: "orders"}, []attribute.KeyValue{attrInstance.String("orders")}},
		{"endpoint", Settings{DBName: "shop", Endpoint: "projects/p/branches/b/endpoints/e"}, []attribute.KeyValue{attrEndpoint.String("projects/p/branches/b/endpoints/e")}},
		{"host", Settings{DBName: "shop", Host: "db.example.com", Port: 5433, User: true}, []attribute.KeyValue{attrServerAddr.String("db.example.com"), attrServerPort.Int(5433)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tel, r := newRecorded(t, tc.s)
			ctx := context.Background()
			want := append([]attribute.KeyValue{attribute.String("db.system.name", "postgresql"), attribute.String("db.namespace", "shop")}, tc.target...)

			// A connect that succeeds, then one that fails at the login.
			connectPath(tel, ctx)
			cctx, span := tel.StartConnect(ctx)
			tel.Resolved(cctx, "10.0.0.1", 5432)
			tel.Identified(cctx, "person@example.com")
			tel.Retrying(cctx, "lakebase.login.retry", errors.New(secretText))
			tel.EndConnect(cctx, span, time.Now(), errors.New(secretText), "login")

			connects := r.named(spanConnect)
			if len(connects) != 2 {
				t.Fatalf("%d connect spans, want 2", len(connects))
			}
			for i, sp := range connects {
				if sp.kind != trace.SpanKindClient || sp.parent != nil || sp.ended != 1 {
					t.Errorf("connect %d: kind %v, parent %v, ended %d times; want a client root span ended once", i, sp.kind, sp.parent, sp.ended)
				}
				wantAttrs(t, "connect span at its start", sp.start, want...)
				checkKeys(t, "connect span", sp.attrs)
				_, hasUser := sp.attr(attrUser)
				if hasUser != tc.s.User {
					t.Errorf("connect %d: lakebase.user recorded %t, want %t (Settings.User)", i, hasUser, tc.s.User)
				}
			}
			ok, failed := connects[0], connects[1]
			wantAttrs(t, "the connect that succeeded", ok.attrs, attrServerAddr.String("h"), attrServerPort.Int(5432))
			if ok.code == codes.Error {
				t.Error("the connect that succeeded is marked failed")
			}
			wantAttrs(t, "the connect that failed", failed.attrs,
				attrServerAddr.String("10.0.0.1"), attrServerPort.Int(5432), attrErrorType.String("boom_type"), attrStep.String("login"))
			if failed.code != codes.Error || failed.desc != "boom_type" || len(failed.events) != 1 || failed.events[0] != "lakebase.login.retry" {
				t.Errorf("the failed connect: status %v %q, events %v; want Error boom_type and one lakebase.login.retry", failed.code, failed.desc, failed.events)
			}
			for _, sp := range r.named(spanConnect) {
				for _, kv := range sp.attrs {
					if strings.Contains(kv.Value.Emit(), "password") {
						t.Errorf("a span records the error's text: %s=%s", kv.Key, kv.Value.Emit())
					}
				}
			}

			points := r.measured("lakebase.connect.duration")
			if len(points) != 2 {
				t.Fatalf("%d connect.duration points, want 2", len(points))
			}
			for i, p := range points {
				checkKeys(t, "connect.duration", p.attrs.ToSlice())
				wantAttrs(t, "connect.duration", p.attrs.ToSlice(), want...)
				if _, ok := p.attrs.Value(attrUser); ok {
					t.Errorf("point %d carries the user; metrics never do", i)
				}
			}
			wantAttrs(t, "connect.duration of the success", points[0].attrs.ToSlice(), attrOutcome.String("success"))
			wantAttrs(t, "connect.duration of the failure", points[1].attrs.ToSlice(),
				attrOutcome.String("failure"), attrStep.String("login"), attrErrorType.String("boom_type"))
		})
	}
}

// The steps of a connect are its children, and a step's failure is its
// error.type; the dial's span ends when the server is reached and the
// login's begins, once: a later dial (a cancel request) starts nothing.
func TestStepAndDialSpans(t *testing.T) {
	tel, r := newRecorded(t, Settings{DBName: "db", Instance: "i"})
	ctx, span := tel.StartConnect(context.Background())
	_, end := tel.Step(ctx, SpanMint)
	end(errors.New("boom"))
	spans := tel.StartDial(ctx)
	hook := spans.Hook()
	hook(nil)
	hook(nil) // a cancel request's dial
	spans.End(errors.New("refused"))
	tel.EndConnect(ctx, span, time.Now(), errors.New("refused"), "login")

	connect := r.named(spanConnect)[0]
	for _, tc := range []struct {
		name   string
		failed bool
		kind   trace.SpanKind
	}{
		{SpanMint, true, trace.SpanKindUnspecified}, // internal, to an SDK
		{spanDial, false, trace.SpanKindClient},
		{spanLogin, true, trace.SpanKindClient},
	} {
		got := r.named(tc.name)
		if len(got) != 1 {
			t.Errorf("%d %s spans, want 1", len(got), tc.name)
			continue
		}
		sp := got[0]
		if sp.parent != connect || sp.ended != 1 || sp.kind != tc.kind {
			t.Errorf("%s: parent %v, ended %d times, kind %v; want the connect's child, ended once, kind %v", tc.name, sp.parent, sp.ended, sp.kind, tc.kind)
		}
		if failed := sp.code == codes.Error; failed != tc.failed {
			t.Errorf("%s failed %t, want %t", tc.name, failed, tc.failed)
		}
		if v, _ := sp.attr(attrErrorType); tc.failed && v.AsString() != "boom_type" {
			t.Errorf("%s: error.type %q, want boom_type", tc.name, v.AsString())
		}
	}

	// A dial that fails ends the dial span failed, and no login follows.
	tel2, r2 := newRecorded(t, Settings{DBName: "db", Instance: "i"})
	ctx, _ = tel2.StartConnect(context.Background())
	spans = tel2.StartDial(ctx)
	spans.Hook()(errors.New("refused"))
	spans.End(errors.New("refused"))
	if d := r2.named(spanDial); len(d) != 1 || d[0].code != codes.Error || d[0].ended != 1 {
		t.Errorf("dial spans %v, want one, failed, ended once", d)
	}
	if l := r2.named(spanLogin); len(l) != 0 {
		t.Errorf("%d login spans after a failed dial, want none", len(l))
	}
}

// A lookup's span is a client span named after its kind, a child of the
// step that asked for it although it runs detached from that step's
// context, and every lookup is counted by kind and outcome.
func TestLookupSpansAndCounts(t *testing.T) {
	tel, r := newRecorded(t, Settings{DBName: "db", Instance: "i"})
	ctx, _ := tel.StartConnect(context.Background())
	sctx, end := tel.Step(ctx, SpanResolve)
	step := trace.SpanFromContext(sctx)
	_, done := tel.Lookup(context.Background(), step, LookupHost)
	done(errors.New("not found"))
	end(errors.New("not found"))

	lookups := r.named("lakebase.lookup.host")
	if len(lookups) != 1 {
		t.Fatalf("%d lakebase.lookup.host spans, want 1", len(lookups))
	}
	sp := lookups[0]
	if sp.parent == nil || sp.parent.name != SpanResolve || sp.kind != trace.SpanKindClient || sp.code != codes.Error {
		t.Errorf("lookup span: parent %v, kind %v, status %v; want a failed client span under lakebase.resolve", sp.parent, sp.kind, sp.code)
	}
	wantAttrs(t, "lookup span", sp.attrs, attrLookup.String(LookupHost), attrErrorType.String("boom_type"))
	checkKeys(t, "lookup span", sp.attrs)
	points := r.measured("lakebase.lookups")
	if len(points) != 1 || points[0].value != 1 {
		t.Fatalf("lakebase.lookups points %v, want one of 1", points)
	}
	wantAttrs(t, "lakebase.lookups", points[0].attrs.ToSlice(),
		attrDBSystem.String("postgresql"), attrInstance.String("i"), attrLookup.String(LookupHost), attrOutcome.String("failure"))
	checkKeys(t, "lakebase.lookups", points[0].attrs.ToSlice())
}
