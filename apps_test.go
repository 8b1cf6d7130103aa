package lakebase_test

import (
	"database/sql"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
	"github.com/lib/pq"
)

// appEnvironment sets what Databricks Apps give an app with a database
// resource whose host is gateway's, logged in as sp.
func appEnvironment(t *testing.T, kit *lakebasetest.Kit, sp lakebasetest.ServicePrincipal, host string) {
	t.Helper()
	h, p, err := net.SplitHostPort(host)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"DATABRICKS_HOST":          kit.Workspace.URL(),
		"DATABRICKS_CLIENT_ID":     sp.ApplicationID,
		"DATABRICKS_CLIENT_SECRET": sp.Secret,
		"PGHOST":                   h,
		"PGPORT":                   p,
		"PGDATABASE":               pgserver.DefaultDatabase,
		"PGUSER":                   sp.ApplicationID,
		"PGSSLMODE":                "verify-full",
		"PGSSLROOTCERT":            kit.Postgres.CAFile(),
		"PGAPPNAME":                "lakebase-test-app",
	} {
		t.Setenv(k, v)
	}
}

// Inside a Databricks App the environment alone is enough: an empty DSN
// finds the instance or endpoint whose host is PGHOST by listing them, and
// mints for it.
func TestDatabricksAppZeroConfig(t *testing.T) {
	kit := sharedKit(t)
	for _, tt := range []struct {
		name     string
		endpoint bool
	}{
		{name: "instance"},
		{name: "endpoint", endpoint: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sp := newServicePrincipal(t, kit)
			target := newTarget(t, kit, tt.endpoint)
			appEnvironment(t, kit, sp, target.host)
			_, db := openConnector(t, "")
			wantCurrentUser(t, db, sp.ApplicationID)
			if n := target.mints(); n != 1 {
				t.Errorf("%d credentials minted for the target, want 1", n)
			}
			if n := accepted(target.readWrite); n != 1 {
				t.Errorf("the target's gateway accepted %d logins, want 1", n)
			}
		})
	}
}

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

// Under OAuth, a login refused for a role that came from PGUSER and is not
// the identity's user name says so, naming both; the same role written in
// the DSN gets the server's error alone, since the user chose it there.
func TestPGUSERThatIsNotTheIdentitySaysSo(t *testing.T) {
	kit := sharedKit(t)
	sp := newServicePrincipal(t, kit)
	appEnvironment(t, kit, sp, endpointHostsOf(t, kit, addEndpoint(t, kit, lakebasetest.EndpointOptions{})).Host)
	t.Setenv("PGUSER", "reporting_app")

	for _, tt := range []struct {
		name, dsn string
		note      bool
	}{
		{"from PGUSER", "", true},
		{"from the DSN", "user=reporting_app", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logs, _, err := pingFails(t, tt.dsn)
			wantConnectError(t, err, "login", `"reporting_app"`)
			var pe *pq.Error
			if !errors.As(err, &pe) || pe.Code != "28P01" {
				t.Errorf("errors.As(%v, *pq.Error) = %v; want the server's 28P01", err, pe)
			}
			said := strings.Contains(err.Error(), "comes from PGUSER") && strings.Contains(err.Error(), sp.ApplicationID)
			if said != tt.note {
				t.Errorf("the error says the role came from PGUSER: %t, want %t", said, tt.note)
			}
			kitSecrets(kit, sp.Secret).check(t, logs, err)
		})
	}
}
