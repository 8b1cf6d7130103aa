package integration_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/lakebasetest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The attributes the tests look for.
var (
	success = attribute.String("lakebase.outcome", "success")
	failure = attribute.String("lakebase.outcome", "failure")
)

// Across credential rotations, the metrics count every mint the workspace
// saw, and the spans show each connect's steps: the first mint under the
// connect that waited for it, each refresh in a trace of its own linked to
// the connect that noticed the refresh window.
func TestTelemetryRotation(t *testing.T) {
	t.Parallel()
	kit := newRotatingKit(t)
	sink := newOtelSink(t)
	c, db := sink.openDB(t, kit.DSNs().M2M, nil)

	pings := pingFor(t, db, 2*rotationLifetime+time.Second, 50*time.Millisecond)
	waitIdle(t, c)

	mints := kit.Workspace.Mints()
	if mints < 3 {
		t.Fatalf("the workspace minted %d credentials in %d pings over two lifetimes, want at least 3", mints, pings)
	}
	if got := sink.sum(t, "lakebase.credential.mints", success); got != int64(mints) {
		t.Errorf("lakebase.credential.mints{success} = %d, want the workspace's %d", got, mints)
	}
	if got := sink.sum(t, "lakebase.credential.mints", failure); got != 0 {
		t.Errorf("lakebase.credential.mints{failure} = %d, want 0", got)
	}
	if got := sink.sum(t, "lakebase.credential.mint.duration", success); got != int64(mints) {
		t.Errorf("lakebase.credential.mint.duration count = %d, want %d", got, mints)
	}
	if got := sink.sum(t, "lakebase.connect.duration", success); got != int64(pings) {
		t.Errorf("lakebase.connect.duration{success} count = %d, want one per ping, %d", got, pings)
	}
	st := c.Stats()
	if got := sink.sum(t, "lakebase.credential.waits"); got != int64(st.CredentialWaits) {
		t.Errorf("lakebase.credential.waits = %d, want Stats' %d", got, st.CredentialWaits)
	}
	if got := sink.sum(t, "lakebase.login.retries"); got != 0 {
		t.Errorf("lakebase.login.retries = %d, want 0", got)
	}
	for _, kind := range []string{"workspace", "host"} {
		if got := sink.sum(t, "lakebase.lookups", attribute.String("lakebase.lookup", kind), success); got != 1 {
			t.Errorf("lakebase.lookups{%s, success} = %d, want 1: looked up once, then cached", kind, got)
		}
	}
	if left, ok := sink.gauge(t, "lakebase.credential.remaining_lifetime"); !ok || left <= 0 || left > rotationLifetime.Seconds() {
		t.Errorf("lakebase.credential.remaining_lifetime = %v (reported %t), want within (0, %v]", left, ok, rotationLifetime.Seconds())
	}

	gw := kit.InstanceGateway()
	connects := sink.named("lakebase.connect")
	if len(connects) != pings {
		t.Fatalf("%d lakebase.connect spans, want one per ping, %d", len(connects), pings)
	}
	for i, sp := range connects {
		checkConnectSpan(t, sink, i, sp, gw)
		if sp.Status().Code == codes.Error {
			t.Errorf("connect %d failed: %v", i, sp.Status())
		}
	}

	fetches := sink.named("lakebase.credential.fetch")
	if len(fetches) != mints {
		t.Fatalf("%d lakebase.credential.fetch spans, want one per mint, %d", len(fetches), mints)
	}
	// The first fetch: connect > mint > fetch.
	first := fetches[0]
	if v, _ := attr(first, "lakebase.credential.refresh"); v.AsBool() {
		t.Error("the first fetch is marked as a refresh")
	}
	if step := sink.byID(first.Parent()); step == nil || step.Name() != "lakebase.mint" || sink.byID(step.Parent()) == nil {
		t.Errorf("the first fetch's parent is %v, want the lakebase.mint span of a recorded connect", step)
	}
	// The refreshes: roots, each linked to the mint step that started it.
	for i, f := range fetches[1:] {
		if v, _ := attr(f, "lakebase.credential.refresh"); !v.AsBool() {
			t.Errorf("fetch %d is not marked as a refresh", i+2)
		}
		if f.Parent().IsValid() {
			t.Errorf("refresh %d has a parent; want a trace of its own", i+1)
		}
		links := f.Links()
		if len(links) != 1 {
			t.Fatalf("refresh %d has %d links, want 1", i+1, len(links))
		}
		if step := sink.byID(links[0].SpanContext); step == nil || step.Name() != "lakebase.mint" {
			t.Errorf("refresh %d links to %v, want a connect's lakebase.mint span", i+1, step)
		}
		if v, ok := attr(f, "lakebase.credential.lifetime"); !ok || v.AsInt64() <= 0 || v.AsInt64() > int64(rotationLifetime.Seconds()) {
			t.Errorf("refresh %d: lakebase.credential.lifetime = %v, want within (0, %v]", i+1, v.Emit(), rotationLifetime.Seconds())
		}
	}
	// The lookups: under the first connect's steps.
	host := sink.named("lakebase.lookup.host")
	if len(host) != 1 || sink.byID(host[0].Parent()).Name() != "lakebase.resolve" {
		t.Errorf("lakebase.lookup.host spans %v, want one under a lakebase.resolve span", names(host))
	}
}

// A failing workspace yields a failed connect span naming the step, an
// error on the step's span and on the lookup or fetch beneath it, and the
// failure counts; never the error's text.
func TestTelemetryWorkspaceFailures(t *testing.T) {
	t.Parallel()
	kit := lakebasetest.New(t, lakebasetest.Options{})
	tests := []struct {
		name      string
		route     string
		status    int
		step      string // the failed step
		errorType string
		span      string // the span beneath the step that failed
		counter   string
		counted   []attribute.KeyValue
	}{
		{
			name: "mint refused", route: "database-credential", status: http.StatusForbidden,
			step: "mint", errorType: "permission_denied", span: "lakebase.credential.fetch",
			counter: "lakebase.credential.mints", counted: []attribute.KeyValue{failure},
		},
		{
			name: "instance unknown", route: "instance", status: http.StatusNotFound,
			step: "resolve", errorType: "not_found", span: "lakebase.lookup.host",
			counter: "lakebase.lookups", counted: []attribute.KeyValue{attribute.String("lakebase.lookup", "host"), failure},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kit.Workspace.Fail(tt.route, lakebasetest.Fault{Status: tt.status})
			defer kit.Workspace.ClearFaults()
			sink := newOtelSink(t)
			_, db := sink.openDB(t, kit.DSNs().M2M, nil)
			connects := sink.failedConnects(t, db, "against a failing workspace")
			for _, sp := range connects { // database/sql may retry
				checkFailed(t, sp, tt.errorType)
				if v, _ := attr(sp, "lakebase.step"); v.AsString() != tt.step {
					t.Errorf("connect span's lakebase.step = %q, want %q", v.AsString(), tt.step)
				}
			}
			step := sink.named("lakebase." + tt.step)
			if len(step) == 0 {
				t.Fatalf("no lakebase.%s span", tt.step)
			}
			checkFailed(t, step[0], tt.errorType)
			beneath := sink.named(tt.span)
			if len(beneath) != 1 {
				t.Fatalf("%d %s spans, want 1 (later connects get the failure during its backoff)", len(beneath), tt.span)
			}
			checkFailed(t, beneath[0], tt.errorType)
			if got := sink.sum(t, tt.counter, tt.counted...); got != 1 {
				t.Errorf("%s%v = %d, want 1", tt.counter, tt.counted, got)
			}
			failed := []attribute.KeyValue{failure, attribute.String("lakebase.step", tt.step), attribute.String("error.type", tt.errorType)}
			if got := sink.sum(t, "lakebase.connect.duration", failed...); got != int64(len(connects)) {
				t.Errorf("lakebase.connect.duration%v count = %d, want %d", failed, got, len(connects))
			}
		})
	}
}

// checkFailed checks that sp failed with errorType, and says so by its
// error.type alone.
func checkFailed(t *testing.T, sp sdktrace.ReadOnlySpan, errorType string) {
	t.Helper()
	if st := sp.Status(); st.Code != codes.Error || st.Description != errorType {
		t.Errorf("span %s has the status %v, want Error %q", sp.Name(), st, errorType)
	}
	if v, _ := attr(sp, "error.type"); v.AsString() != errorType {
		t.Errorf("span %s has error.type %q, want %q", sp.Name(), v.AsString(), errorType)
	}
}

// A refresh that fails while the current credential is still handed out is
// counted as a refresh failure; connects go on, and the remaining lifetime
// falls below the refresh window, which is what to alert on.
func TestTelemetryRefreshFailure(t *testing.T) {
	t.Parallel()
	kit := newRotatingKit(t)
	sink := newOtelSink(t)
	c, db := sink.openDB(t, kit.DSNs().M2M, nil)
	pingFor(t, db, 0, 0) // the first credential
	kit.Workspace.Fail("database-credential", lakebasetest.Fault{Status: http.StatusForbidden})

	// Default window: a quarter of the lifetime; margin: a tenth.
	window := rotationLifetime / 4
	pingFor(t, db, rotationLifetime-window+200*time.Millisecond, 20*time.Millisecond)
	waitIdle(t, c)

	if got := sink.sum(t, "lakebase.credential.refresh.failures"); got < 1 {
		t.Errorf("lakebase.credential.refresh.failures = %d, want at least 1", got)
	}
	if got, want := sink.sum(t, "lakebase.credential.mints", failure), sink.sum(t, "lakebase.credential.refresh.failures"); got != want {
		t.Errorf("lakebase.credential.mints{failure} = %d, want the %d refresh failures", got, want)
	}
	left, ok := sink.gauge(t, "lakebase.credential.remaining_lifetime")
	if !ok || left > window.Seconds() {
		t.Errorf("lakebase.credential.remaining_lifetime = %v (reported %t), want below the window, %v", left, ok, window.Seconds())
	}
	var failedRefreshes int
	for _, f := range sink.named("lakebase.credential.fetch") {
		if v, _ := attr(f, "lakebase.credential.refresh"); v.AsBool() {
			checkFailed(t, f, "permission_denied")
			failedRefreshes++
		}
	}
	if failedRefreshes == 0 {
		t.Error("no failed refresh span")
	}
}

// A revoked credential refused at login: the connect retries with a new
// one, and says so in its span and in lakebase.login.retries.
func TestTelemetryLoginRetry(t *testing.T) {
	t.Parallel()
	kit := lakebasetest.New(t, lakebasetest.Options{})
	sink := newOtelSink(t)
	_, db := sink.openDB(t, kit.DSNs().M2M, nil)
	pingFor(t, db, 0, 0)
	kit.RevokeCredentials()
	pingFor(t, db, 0, 0)

	if got := sink.sum(t, "lakebase.login.retries"); got != 1 {
		t.Errorf("lakebase.login.retries = %d, want 1", got)
	}
	if got := sink.sum(t, "lakebase.credential.mints", success); got != 2 {
		t.Errorf("lakebase.credential.mints{success} = %d, want 2", got)
	}
	checkRetriedConnect(t, sink)
}

// A server that refuses connections: the connect re-resolves the host once
// (an event on its span), then fails at the dial step, and the dial spans
// say why.
func TestTelemetryDialFailure(t *testing.T) {
	t.Parallel()
	kit := lakebasetest.New(t, lakebasetest.Options{})
	sink := newOtelSink(t)
	_, db := sink.openDB(t, kit.DSNs().M2M, nil)
	gw := kit.InstanceGateway()
	if err := gw.SetOutage(true); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = gw.SetOutage(false) }()
	connects := sink.failedConnects(t, db, "during an outage")
	sp := connects[0]
	checkFailed(t, sp, "network")
	if v, _ := attr(sp, "lakebase.step"); v.AsString() != "dial" {
		t.Errorf("connect span's lakebase.step = %q, want dial", v.AsString())
	}
	if ev := sp.Events(); len(ev) != 1 || ev[0].Name != "lakebase.dial.retry" {
		t.Errorf("connect span's events %+v, want one lakebase.dial.retry", ev)
	}
	var dials int
	for _, child := range sink.children(sp) {
		switch child.Name() {
		case "lakebase.dial":
			checkFailed(t, child, "network")
			dials++
		case "lakebase.login":
			t.Error("a login span without a connection")
		}
	}
	if dials != 2 {
		t.Errorf("%d dial spans, want 2: the first, and the one after re-resolving", dials)
	}
	failed := []attribute.KeyValue{failure, attribute.String("lakebase.step", "dial"), attribute.String("error.type", "network")}
	if got := sink.sum(t, "lakebase.connect.duration", failed...); got != int64(len(connects)) {
		t.Errorf("lakebase.connect.duration%v count = %d, want %d", failed, got, len(connects))
	}
	if got := sink.sum(t, "lakebase.lookups", attribute.String("lakebase.lookup", "host"), success); got < 2 {
		t.Errorf("lakebase.lookups{host, success} = %d, want at least 2: the host is looked up again after the dial failure", got)
	}
}
