package lakebase_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/lakebasetest"
)

// Fault 4, the workspace: with connect_timeout and a context without a
// deadline, the connect budget bounds each step that asks the workspace,
// whichever of its routes hangs: the login, the lookup, the identity and
// the mint. The Ping fails within the budget (and a generous ceiling for a
// loaded machine) with the step's ConnectError and
// context.DeadlineExceeded; Close then ends the request still waiting.
func TestFaultConnectBudgetBoundsWorkspaceSteps(t *testing.T) {
	const budget = 2 * time.Second
	for _, tc := range []struct {
		route string
		pat   bool // log in with the user's token, whose identity is a SCIM Me request
		step  string
	}{
		{route: "token", step: "resolve"},
		{route: "instance", step: "resolve"},
		{route: "me", pat: true, step: "identity"},
		{route: "database-credential", step: "mint"},
	} {
		t.Run(string(tc.route), func(t *testing.T) {
			e := newFaultEnv(t)
			dsn := e.dsn("connect_timeout=2")
			if tc.pat {
				dsn = e.dsnWith("instance="+e.instance, "auth=pat token="+quote(e.kit.User.Token), "connect_timeout=2")
			}
			e.kit.Workspace.Fail(tc.route, lakebasetest.Fault{Delay: time.Minute})
			db, _ := e.open(dsn)
			start := time.Now()
			err := e.record(db.PingContext(context.Background()))
			if took := time.Since(start); took > budget+scaled(2*time.Second) {
				t.Errorf("Ping failed after %s; want within the budget of %s", took, budget)
			}
			wantConnectError(t, err, tc.step, "within the connect budget of 2s")
			if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "lakebase: lakebase:") {
				t.Errorf("Ping = %v; want context.DeadlineExceeded", err)
			}
			e.waitNoLeaksAfterClose()
		})
	}
}
