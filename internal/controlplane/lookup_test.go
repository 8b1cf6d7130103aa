package controlplane

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

func TestInstance(t *testing.T) {
	w := startWorkspace(t)
	c := newClient(t, m2m(w))
	got, err := c.Instance(testContext(t), instName)
	want := Instance{Name: instName, State: "AVAILABLE", ReadWriteDNS: instRW, ReadOnlyDNS: instRO}
	if err != nil || got != want {
		t.Fatalf("Instance = %+v, %v; want %+v", got, err, want)
	}
}

func TestInstanceStates(t *testing.T) {
	tests := []struct {
		state string
		kind  error
	}{
		{"AVAILABLE", nil},
		{"STOPPED", ErrStopped},
		{"DELETING", ErrStopped},
		{"STARTING", ErrNotReady},
		{"UPDATING", ErrNotReady},
		{"FAILING_OVER", ErrNotReady},
	}
	w := startWorkspace(t)
	c := newClient(t, m2m(w))
	for _, tt := range tests {
		must(t, w.UpdateInstance(instName, func(i *lakebasetest.Instance) { i.State = tt.state }))
		got, err := c.Instance(testContext(t), instName)
		if !errors.Is(err, tt.kind) || (tt.kind == nil) != (err == nil) {
			t.Errorf("state %s: %v, want kind %v", tt.state, err, tt.kind)
			continue
		}
		if got.State != tt.state || got.ReadWriteDNS != instRW {
			t.Errorf("state %s: got %+v, want the instance with its state", tt.state, got)
		}
		if tt.state == "STOPPED" && !got.Stopped {
			t.Errorf("state STOPPED: effective_stopped not reported")
		}
		if err != nil && (!strings.Contains(err.Error(), `instance "orders-db"`) || !strings.Contains(err.Error(), tt.state)) {
			t.Errorf("state %s: %q should name the instance and its state", tt.state, err)
		}
	}
}

func TestEndpoint(t *testing.T) {
	w := startWorkspace(t)
	c := newClient(t, pat(w))
	got, err := c.Endpoint(testContext(t), epPath)
	want := Endpoint{Path: epPath, State: "ACTIVE", Host: epRW, ReadOnlyHost: epRO, PooledHost: epPooled, ReadOnlyPooledHost: epROPooled}
	if err != nil || got != want {
		t.Fatalf("Endpoint = %+v, %v; want %+v", got, err, want)
	}
	for _, state := range []string{"IDLE", "INIT"} {
		must(t, w.UpdateEndpoint(epPath, func(ep *lakebasetest.Endpoint) { ep.State = state }))
		got, err := c.Endpoint(testContext(t), epPath)
		if !errors.Is(err, ErrNotReady) || got.Host != epRW || got.State != state {
			t.Errorf("state %s: %+v, %v; want ErrNotReady with the endpoint", state, got, err)
		}
	}
	must(t, w.UpdateEndpoint(epPath, func(ep *lakebasetest.Endpoint) { ep.State = "DEGRADED" }))
	if _, err := c.Endpoint(testContext(t), epPath); err != nil {
		t.Errorf("state DEGRADED: %v, want usable", err)
	}
}

// The endpoint's status decides at once what a connection can hope for: a
// disabled endpoint is stopped whatever its compute does, and pending_state
// says more where current_state is settled on the way somewhere else or
// missing.
func TestEndpointStates(t *testing.T) {
	w := startWorkspace(t)
	c := newClient(t, pat(w))
	tests := []struct {
		state, pending string
		disabled       bool
		wantKind       error  // nil: usable
		wantText       string // in the error
		wantWakes      bool
	}{
		{state: "ACTIVE"},
		{state: "DEGRADED"},
		{state: "ACTIVE", pending: "IDLE"},
		{state: "IDLE", wantKind: ErrNotReady, wantText: "(state IDLE)", wantWakes: true},
		{state: "IDLE", pending: "ACTIVE", wantKind: ErrNotReady, wantText: "(state IDLE, pending ACTIVE)", wantWakes: true},
		{state: "INIT", pending: "ACTIVE", wantKind: ErrNotReady, wantText: "(state INIT, pending ACTIVE)"},
		{state: "IDLE", disabled: true, wantKind: ErrStopped, wantText: "disabled"},
		{state: "ACTIVE", pending: "IDLE", disabled: true, wantKind: ErrStopped, wantText: "(state ACTIVE, pending IDLE): the endpoint is disabled"},
	}
	for _, tt := range tests {
		must(t, w.UpdateEndpoint(epPath, func(ep *lakebasetest.Endpoint) {
			ep.State, ep.PendingState, ep.Disabled = tt.state, tt.pending, tt.disabled
		}))
		got, err := c.Endpoint(testContext(t), epPath)
		name := tt.state + "/" + tt.pending
		if tt.disabled {
			name += "/disabled"
		}
		switch {
		case tt.wantKind == nil && err != nil:
			t.Errorf("%s: %v, want usable", name, err)
		case tt.wantKind != nil && !errors.Is(err, tt.wantKind):
			t.Errorf("%s: %v, want %v", name, err, tt.wantKind)
		case err != nil && !strings.Contains(err.Error(), tt.wantText):
			t.Errorf("%s: %q does not say %q", name, err, tt.wantText)
		}
		if got.State != string(tt.state) || got.PendingState != string(tt.pending) || got.Disabled != tt.disabled || got.Host != epRW {
			t.Errorf("%s: endpoint %+v does not carry its status", name, got)
		}
		if got.Wakes() != tt.wantWakes {
			t.Errorf("%s: Wakes() = %t, want %t", name, got.Wakes(), tt.wantWakes)
		}
	}
}

func TestLookupFailures(t *testing.T) {
	tests := []struct {
		name   string
		fault  *lakebasetest.Fault
		route  string
		lookup func(c *Client) error
		kind   error
		status int
	}{
		{name: "unknown instance", lookup: func(c *Client) error { _, err := c.Instance(testContext(t), "nope"); return err },
			kind: ErrNotFound, status: http.StatusNotFound},
		{name: "unknown endpoint", lookup: func(c *Client) error {
			_, err := c.Endpoint(testContext(t), "projects/shop/branches/main/endpoints/nope")
			return err
		}, kind: ErrNotFound, status: http.StatusNotFound},
		{name: "instance forbidden", route: "instance", fault: &lakebasetest.Fault{Status: http.StatusForbidden},
			lookup: func(c *Client) error { _, err := c.Instance(testContext(t), instName); return err },
			kind:   ErrPermissionDenied, status: http.StatusForbidden},
		{name: "endpoint forbidden", route: "endpoint", fault: &lakebasetest.Fault{Status: http.StatusForbidden},
			lookup: func(c *Client) error { _, err := c.Endpoint(testContext(t), epPath); return err },
			kind:   ErrPermissionDenied, status: http.StatusForbidden},
		{name: "instance gone", route: "instance", fault: &lakebasetest.Fault{Status: http.StatusNotFound},
			lookup: func(c *Client) error { _, err := c.Instance(testContext(t), instName); return err },
			kind:   ErrNotFound, status: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := startWorkspace(t)
			c := newClient(t, m2m(w))
			if tt.fault != nil {
				w.Fail(tt.route, *tt.fault)
			}
			err := tt.lookup(c)
			var apiErr *apierr.APIError
			if !errors.Is(err, tt.kind) || !errors.As(err, &apiErr) || apiErr.StatusCode != tt.status {
				t.Fatalf("%v, want %v from a %d", err, tt.kind, tt.status)
			}
			if !strings.HasPrefix(err.Error(), "lakebase: resolve: ") {
				t.Errorf("%q: want the resolve step", err)
			}
			noSecret(t, "error", err.Error())
		})
	}
}

func TestMalformedNamesMakeNoRequest(t *testing.T) {
	w := startWorkspace(t)
	c := newClient(t, m2m(w))
	ctx := testContext(t)
	_, err1 := c.Instance(ctx, "a/../b")
	_, err2 := c.Endpoint(ctx, "projects/p/branches/b")
	_, _, err3 := c.MintForInstance(ctx, "", nil)
	_, _, err4 := c.MintForEndpoint(ctx, "projects/p/branches/b/endpoints/e?x", 0, nil)
	for i, err := range []error{err1, err2, err3, err4} {
		if !errors.Is(err, ErrConfig) {
			t.Errorf("call %d: %v, want ErrConfig", i+1, err)
		}
	}
	if n := w.Requests("instance") + w.Requests("endpoint") +
		w.Requests("database-credential") + w.Requests("postgres-credential"); n != 0 {
		t.Errorf("%d requests for malformed names", n)
	}
}

func TestFindByHost(t *testing.T) {
	w := startWorkspace(t)
	must(t, w.AddInstance(lakebasetest.Instance{Name: "other-db", ReadWriteHost: "instance-9.database.example"}))
	must(t, w.AddEndpoint(lakebasetest.Endpoint{Path: "projects/shop/branches/dev/endpoints/ep", State: "IDLE",
		Host: "ep-dev.database.example"}))
	// The user's own SDK configuration, with a rate limit that does not slow the many listings.
	s := m2m(w)
	s.SDKConfig = &config.Config{RateLimitPerSecond: 10000}
	c := newClient(t, s)
	tests := []struct {
		host               string
		instance, endpoint string
		readOnly, pooled   bool
		kind               error
	}{
		{host: instRW, instance: instName},
		{host: instRO, instance: instName, readOnly: true},
		{host: "INSTANCE-9.database.example:5432", instance: "other-db"},
		{host: epRW, endpoint: epPath},
		{host: epRO, endpoint: epPath, readOnly: true},
		{host: epPooled, endpoint: epPath, pooled: true},
		{host: epROPooled, endpoint: epPath, readOnly: true, pooled: true},
		{host: "ep-dev.database.example", endpoint: "projects/shop/branches/dev/endpoints/ep", kind: ErrNotReady},
		{host: "127.0.0.1:19999", kind: ErrNotFound},
		{host: "nowhere.example", kind: ErrNotFound},
	}
	for _, tt := range tests {
		got, err := c.FindByHost(testContext(t), tt.host)
		if !errors.Is(err, tt.kind) || (tt.kind == nil) != (err == nil) {
			t.Errorf("FindByHost(%q): %v, want kind %v", tt.host, err, tt.kind)
			continue
		}
		var inst, ep string
		if got.Instance != nil {
			inst = got.Instance.Name
		}
		if got.Endpoint != nil {
			ep = got.Endpoint.Path
		}
		if inst != tt.instance || ep != tt.endpoint || got.ReadOnly != tt.readOnly || got.Pooled != tt.pooled {
			t.Errorf("FindByHost(%q) = instance %q endpoint %q ro %v pooled %v; want %q %q %v %v",
				tt.host, inst, ep, got.ReadOnly, got.Pooled, tt.instance, tt.endpoint, tt.readOnly, tt.pooled)
		}
	}
}

func TestFindByHostListingFails(t *testing.T) {
	w := startWorkspace(t)
	c := newClient(t, m2m(w))
	// A workspace without Provisioned instances may refuse to list them;
	// an endpoint is still found.
	w.Fail("instances", lakebasetest.Fault{Status: http.StatusNotImplemented})
	got, err := c.FindByHost(testContext(t), epRW)
	if err != nil || got.Endpoint == nil {
		t.Fatalf("FindByHost with instances unlisted: %+v, %v; want the endpoint", got, err)
	}
	// When nothing is found, the failed listing is the answer, not "not found".
	w.Fail("projects", lakebasetest.Fault{Status: http.StatusForbidden})
	_, err = c.FindByHost(testContext(t), "nowhere.example")
	if !errors.Is(err, ErrPermissionDenied) || errors.Is(err, ErrNotFound) {
		t.Fatalf("FindByHost with both listings failing: %v, want ErrPermissionDenied", err)
	}
}

// A project whose listing is refused, or a branch whose endpoints fail to
// list, is skipped, not the end of the search; when nothing matches, the
// error says what was searched, what failed and which variable to set.
func TestFindByHostSkipsRefusedListings(t *testing.T) {
	w := startWorkspace(t)
	must(t, w.AddEndpoint(lakebasetest.Endpoint{Path: "projects/aaa-hidden/branches/main/endpoints/ep",
		Host: "hidden.database.example"}))
	must(t, w.AddEndpoint(lakebasetest.Endpoint{Path: "projects/zzz-app/branches/main/endpoints/ep",
		Host: "app.database.example"}))
	w.DenyProjectListing("aaa-hidden", spID)
	var logs bytes.Buffer
	s := m2m(w)
	s.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newClient(t, s)

	got, err := c.FindByHost(testContext(t), "app.database.example")
	if err != nil || got.Endpoint == nil || got.Endpoint.Path != "projects/zzz-app/branches/main/endpoints/ep" {
		t.Fatalf("FindByHost past a refused project: %+v, %v; want the endpoint of zzz-app", got, err)
	}
	if !strings.Contains(logs.String(), "level=DEBUG") || !strings.Contains(logs.String(), "the branches of projects/aaa-hidden") {
		t.Errorf("the skipped project was not logged at debug:\n%s", logs.String())
	}

	_, err = c.FindByHost(testContext(t), "hidden.database.example")
	t.Logf("not found: %v", err)
	if !errors.Is(err, ErrPermissionDenied) {
		t.Errorf("FindByHost of a host in the refused project: %v, want ErrPermissionDenied", err)
	}
	for _, want := range []string{"LAKEBASE_INSTANCE or LAKEBASE_ENDPOINT", "listing the branches of projects/aaa-hidden", "branches of 3 projects"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v does not say %q", err, want)
		}
	}

	_, err = c.FindByHost(testContext(t), "nowhere.example")
	if !errors.Is(err, ErrPermissionDenied) || !strings.Contains(err.Error(), "LAKEBASE_ENDPOINT") {
		t.Errorf("FindByHost of an unknown host: %v, want the refused listing and the variable to set", err)
	}
	w.DenyProjectListing("aaa-hidden", "nobody")
	c2 := newClient(t, pat(w))
	_, err = c2.FindByHost(testContext(t), "nowhere.example")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "LAKEBASE_INSTANCE or LAKEBASE_ENDPOINT") {
		t.Errorf("FindByHost with every listing allowed: %v, want ErrNotFound naming the variables", err)
	}
}
