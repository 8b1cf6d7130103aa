package lakebase_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/service/postgres"
	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// A disabled endpoint cannot be enabled by a connection: Connect fails at
// once with ErrStopped saying so, named or found by PGHOST, and mints
// nothing, instead of waiting out its budget.
func TestDisabledEndpointFailsAtOnce(t *testing.T) {
	kit := sharedKit(t)
	for _, tt := range []struct {
		name  string
		state postgres.EndpointStatusState
		app   bool // found by PGHOST in a Databricks App
	}{
		{name: "idle", state: "IDLE"},
		{name: "active", state: "ACTIVE"},
		{name: "found by PGHOST", state: "IDLE", app: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sp := newServicePrincipal(t, kit)
			path := addEndpoint(t, kit, lakebasetest.EndpointOptions{State: tt.state})
			if err := kit.Workspace.SetEndpointDisabled(path, true); err != nil {
				t.Fatal(err)
			}
			dsn := "endpoint=" + path + " " + m2mKeys(kit, sp)
			step := "resolve"
			if tt.app {
				appEnvironment(t, kit, sp, endpointHostsOf(t, kit, path).Host)
				dsn, step = "", "mint"
			}
			logger, logs := debugLogger()
			_, db := openConnector(t, dsn, func(c *lakebase.Config) { c.Logger = logger })
			start := time.Now()
			err := db.PingContext(contextFor(t, 30*time.Second))
			took := time.Since(start)
			if err == nil {
				t.Fatal("Ping succeeded on a disabled endpoint")
			}
			t.Logf("error after %s: %v", took, err)
			wantConnectError(t, err, step, strconv.Quote(path), "disabled", "enable it in the workspace")
			if !errors.Is(err, lakebase.ErrStopped) {
				t.Errorf("errors.Is(%v, ErrStopped) = false", err)
			}
			if took > 5*time.Second {
				t.Errorf("the error took %s; a disabled endpoint is not waited for", took)
			}
			if n := kit.Workspace.MintsForEndpoint(path); n != 0 {
				t.Errorf("%d credentials minted for a disabled endpoint, want 0", n)
			}
			kitSecrets(kit, sp.Secret).check(t, logs, err)
		})
	}
}

// An endpoint whose compute is starting (INIT, pending ACTIVE) is waited for,
// and the wait's log says where it is going; once it is ACTIVE, Connect
// succeeds.
func TestEndpointPendingStateIsWaitedFor(t *testing.T) {
	t.Parallel()
	kit := sharedKit(t)
	sp := newServicePrincipal(t, kit)
	path := addEndpoint(t, kit, lakebasetest.EndpointOptions{State: "INIT"})
	if err := kit.Workspace.SetEndpointPendingState(path, "ACTIVE"); err != nil {
		t.Fatal(err)
	}
	logger, logs := debugLogger()
	_, db := openConnector(t, "endpoint="+path+" "+m2mKeys(kit, sp), func(c *lakebase.Config) { c.Logger = logger })
	timer := time.AfterFunc(time.Second, func() {
		if err := kit.Workspace.SetEndpointState(path, "ACTIVE"); err != nil {
			t.Error(err)
		}
		if err := kit.Workspace.SetEndpointPendingState(path, ""); err != nil {
			t.Error(err)
		}
	})
	defer timer.Stop()
	got, err := currentUser(contextFor(t, 10*time.Second), db)
	if err != nil {
		t.Fatal(err)
	}
	if got != sp.ApplicationID {
		t.Errorf("current_user = %q, want %q", got, sp.ApplicationID)
	}
	if !strings.Contains(logs.String(), "INIT, pending ACTIVE") {
		t.Errorf("the wait's log does not say the endpoint is on its way to ACTIVE:\n%s", logs)
	}
}
