package main

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

func TestPing(t *testing.T) {
	kit := testKit(t)
	dsns := kit.DSNs()
	cases := []struct {
		name, dsn, identity, expiry string
	}{
		{"m2m", dsns.M2M, kit.ServicePrincipal.ApplicationID, "credential expires"},
		{"pat", dsns.PAT, kit.User.Email, "credential expires"},
		{"endpoint", dsns.Endpoint, kit.ServicePrincipal.ApplicationID, "credential expires"},
		{"password", dsns.Password, kit.NativeRole, "without expiry"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd("ping", tc.dsn)
			if r.code != exitOK {
				t.Fatalf("ping failed:\n%v", r)
			}
			for _, want := range []string{"resolve ", "identity ", "user " + tc.identity, tc.expiry, "connect ", "current_user " + tc.identity, "server    PostgreSQL ", "ok in "} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("output lacks %q:\n%v", want, r)
				}
			}
			assertNoSecret(t, r, kitSecrets(kit)...)
		})
	}
}

func TestPingFromEnvironment(t *testing.T) {
	kit := testKit(t)
	t.Setenv("LAKEBASE_DSN", kit.DSNs().M2M)
	r := runCmd("ping")
	if r.code != exitOK || !strings.Contains(r.stdout, "current_user "+kit.ServicePrincipal.ApplicationID) {
		t.Fatalf("ping with LAKEBASE_DSN failed:\n%v", r)
	}
}

func TestPingFailures(t *testing.T) {
	kit := testKit(t)
	dsns := kit.DSNs()
	denied := lakebasetest.ServicePrincipal{ApplicationID: "denied-app", Secret: "denied-Secret-1234", DisplayName: "denied"}
	if err := kit.AddServicePrincipal(context.Background(), denied); err != nil {
		t.Fatal(err)
	}
	kit.Workspace.DenyInstance(lakebasetest.DefaultInstance, denied.ApplicationID)
	// A service principal the workspace knows, with no Postgres role.
	roleless := lakebasetest.ServicePrincipal{ApplicationID: "5d1e7c1a-3f0b-4a8e-9c2d-6b7a8f9e0d1c", Secret: "roleless-Secret-9012"}
	if err := kit.Workspace.AddServicePrincipal(roleless); err != nil {
		t.Fatal(err)
	}
	const wrongSecret = "wrong-Secret-5678"
	cases := []struct {
		name, dsn, step, hint string
	}{
		{"unknown instance", modifyDSN(t, dsns.M2M, func(c *lakebase.Config) { c.Instance = "no-such-instance" }),
			"resolve", "check the instance or endpoint name"},
		{"wrong client secret", modifyDSN(t, dsns.M2M, func(c *lakebase.Config) { c.ClientSecret = wrongSecret }),
			"resolve", "the workspace refused the login"},
		{"no permission", modifyDSN(t, dsns.M2M, func(c *lakebase.Config) { c.ClientID, c.ClientSecret = denied.ApplicationID, denied.Secret }),
			"mint", "permission"},
		{"wrong password", modifyDSN(t, dsns.Password, func(c *lakebase.Config) { c.Password = wrongSecret }),
			"login", "credential refused (28P01)"},
		{"service principal without a role", modifyDSN(t, dsns.M2M, func(c *lakebase.Config) { c.ClientID, c.ClientSecret = roleless.ApplicationID, roleless.Secret }),
			"login", "SELECT databricks_create_role('" + roleless.ApplicationID + "', 'SERVICE_PRINCIPAL')"},
		{"unknown database", modifyDSN(t, dsns.M2M, func(c *lakebase.Config) { c.DBName = "no_such_db" }),
			"login", "no such database (3D000)"},
		{"workspace port refuses connections", modifyDSN(t, dsns.M2M, func(c *lakebase.Config) { c.Workspace = "http://" + refusingAddr(t) }),
			"resolve", "the workspace cannot be reached: check its URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd("ping", tc.dsn)
			if r.code != exitFailure || !strings.Contains(r.stderr, `failed at step "`+tc.step+`"`) || !strings.Contains(r.stderr, tc.hint) {
				t.Errorf("want exit 1 naming step %q with hint %q; got\n%v", tc.step, tc.hint, r)
			}
			assertNoSecret(t, r, append(kitSecrets(kit), wrongSecret, denied.Secret, roleless.Secret)...)
		})
	}
}

// ping -trace prints the driver's spans of one connect as a tree: every
// step under the connect, the workspace calls under the steps, with
// timings; a failed connect shows the failed spans and still names the
// step. Never a secret.
func TestPingTrace(t *testing.T) {
	kit := testKit(t)
	r := runCmd("ping", "-trace", kit.DSNs().M2M)
	if r.code != exitOK {
		t.Fatalf("ping -trace failed:\n%v", r)
	}
	// Each line: the span's name, indented two spaces a level.
	want := []string{
		"lakebase.connect",
		"  lakebase.resolve",
		"    lakebase.lookup.host",
		"      lakebase.lookup.workspace",
		"  lakebase.identity",
		"    lakebase.lookup.identity",
		"  lakebase.mint",
		"    lakebase.credential.fetch",
		"  lakebase.dial",
		"  lakebase.login",
	}
	lines := strings.Split(r.stdout, "\n")
	if len(lines) < len(want) {
		t.Fatalf("output too short:\n%v", r)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w+" ") || indent(lines[i]) != indent(w) {
			t.Errorf("line %d = %q, want the span %q", i+1, lines[i], w)
		}
		if strings.Contains(lines[i], "running") || strings.Contains(lines[i], "FAILED") {
			t.Errorf("line %d = %q, want an ended span that worked", i+1, lines[i])
		}
	}
	gw := kit.InstanceGateway()
	if !strings.Contains(lines[0], "server.address="+gw.Host()) || !strings.Contains(r.stdout, "current_user "+kit.ServicePrincipal.ApplicationID) {
		t.Errorf("output lacks the server's address or the user:\n%v", r)
	}
	assertNoSecret(t, r, kitSecrets(kit)...)

	bad := modifyDSN(t, kit.DSNs().M2M, func(c *lakebase.Config) { c.Instance = "no-such-instance" })
	r = runCmd("ping", "-trace", bad)
	if r.code != exitFailure || !strings.Contains(r.stderr, `failed at step "resolve"`) {
		t.Fatalf("want exit 1 naming step resolve; got\n%v", r)
	}
	for _, w := range []string{"lakebase.connect", "lakebase.resolve", "lakebase.lookup.host"} {
		if !strings.Contains(r.stdout, w+" ") || !strings.Contains(r.stdout, "FAILED (error.type=not_found)") {
			t.Errorf("output lacks the failed span %s:\n%v", w, r)
		}
	}
	assertNoSecret(t, r, kitSecrets(kit)...)
}

// indent is the number of spaces line starts with.
func indent(line string) int { return len(line) - len(strings.TrimLeft(line, " ")) }

// refusingAddr is a loopback address whose port refuses connections.
func refusingAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Under OAuth, a role from PGUSER that is not the identity's is named as the
// cause of a refused login.
func TestPingPGUSERIsNotTheIdentity(t *testing.T) {
	kit := testKit(t)
	t.Setenv("PGUSER", "reporting_app")
	r := runCmd("ping", kit.DSNs().M2M)
	if r.code != exitFailure || !strings.Contains(r.stderr, `failed at step "login"`) ||
		!strings.Contains(r.stderr, `the role "reporting_app" comes from PGUSER`) || !strings.Contains(r.stderr, kit.ServicePrincipal.ApplicationID) {
		t.Errorf("want exit 1 at step login saying the role came from PGUSER; got\n%v", r)
	}
	assertNoSecret(t, r, kitSecrets(kit)...)
}
