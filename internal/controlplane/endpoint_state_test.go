package controlplane

import (
	"errors"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go/service/postgres"
)

// The endpoint's status decides at once what a connection can hope for: a
// disabled endpoint is stopped whatever its compute does, and pending_state
// says more where current_state is settled on the way somewhere else or
// missing.
func TestEndpointStates(t *testing.T) {
	w := startWorkspace(t)
	c := newClient(t, pat(w))
	tests := []struct {
		state, pending postgres.EndpointStatusState
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
		must(t, w.SetEndpointState(epPath, tt.state))
		must(t, w.SetEndpointPendingState(epPath, tt.pending))
		must(t, w.SetEndpointDisabled(epPath, tt.disabled))
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
