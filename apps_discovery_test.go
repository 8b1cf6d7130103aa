package lakebase_test

import (
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// In a Databricks App, sql.Open("lakebase", "") finds the endpoint whose
// host is PGHOST even when the identity may not list inside another
// project: the refused project is skipped, not the end of the search. When
// PGHOST matches nothing, the error names the variables that name the
// target instead.
func TestDatabricksAppDiscoverySkipsRefusedProjects(t *testing.T) {
	kit := sharedKit(t)
	sp := newServicePrincipal(t, kit)
	hidden := addEndpoint(t, kit, lakebasetest.EndpointOptions{Path: "projects/" + uniqueName("aaa-hidden") + "/branches/main/endpoints/primary"})
	path := addEndpoint(t, kit, lakebasetest.EndpointOptions{Path: "projects/" + uniqueName("zzz-app") + "/branches/main/endpoints/primary"})
	kit.Workspace.DenyProjectListing(strings.Split(hidden, "/")[1], sp.ApplicationID)

	t.Run("found past a refused project", func(t *testing.T) {
		appEnvironment(t, kit, sp, endpointHostsOf(t, kit, path).Host)
		db, err := sql.Open("lakebase", "")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		wantCurrentUser(t, db, sp.ApplicationID)
		if n := kit.Workspace.MintsForEndpoint(path); n != 1 {
			t.Errorf("%d credentials minted for the endpoint, want 1", n)
		}
	})

	t.Run("nothing matches", func(t *testing.T) {
		appEnvironment(t, kit, sp, closedPort(t))
		logs, _, err := pingFails(t, "")
		wantConnectError(t, err, "mint", "no instance or endpoint of the workspace has this host",
			"LAKEBASE_INSTANCE or LAKEBASE_ENDPOINT", "listing the branches of "+strings.Join(strings.Split(hidden, "/")[:2], "/"))
		if !errors.Is(err, lakebase.ErrPermissionDenied) {
			t.Errorf("errors.Is(%v, ErrPermissionDenied) = false: the refused listing may have hidden the host", err)
		}
		if n := strings.Count(err.Error(), "lakebase:"); n != 1 {
			t.Errorf("%q carries %d lakebase: prefixes, want 1", err, n)
		}
		if !strings.Contains(logs.String(), "a listing failed; skipping it") {
			t.Errorf("the skipped project was not logged:\n%s", logs)
		}
		kitSecrets(kit, sp.Secret).check(t, logs, err)
	})
}
