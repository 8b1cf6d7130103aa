package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// program returns the path of the machine's program name; without one the
// test skips, saying why (missing), except under CI, where it fails.
func program(t *testing.T, name, missing string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil && os.Getenv("CI") != "true" {
		t.Skip(missing)
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// psqlProgram returns the machine's psql.
func psqlProgram(t *testing.T) string {
	t.Helper()
	return program(t, "psql", "psql is not installed (apt-get install postgresql-client)")
}

func TestPsql(t *testing.T) {
	kit := testKit(t)
	psql := psqlProgram(t)
	dsns := kit.DSNs()
	cases := []struct{ name, dsn, identity string }{
		{"m2m", dsns.M2M, kit.ServicePrincipal.ApplicationID},
		{"password", dsns.Password, kit.NativeRole},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd("psql", "--psql", psql, tc.dsn, "--", "-X", "-A", "-t", "-c", "select current_user")
			if r.code != exitOK || strings.TrimSpace(r.stdout) != tc.identity {
				t.Errorf("want psql to print %q; got\n%v", tc.identity, r)
			}
			assertNoSecret(t, r, kitSecrets(kit)...)
		})
	}
}

func TestPsqlExitCode(t *testing.T) {
	kit := testKit(t)
	psql := psqlProgram(t)
	r := runCmd("psql", "--psql", psql, kit.DSNs().M2M, "--", "-X", "-v", "ON_ERROR_STOP=1", "-c", "select no_such_column")
	if r.code != 1 || !strings.Contains(r.stderr, "no_such_column") {
		t.Errorf("want psql's exit code 1 and its error; got\n%v", r)
	}
}

// TestPsqlEnvironment runs a shell in psql's place to see its environment
// and arguments: the credential is in PGPASSWORD, never on the command line,
// and the exit code comes back.
func TestPsqlEnvironment(t *testing.T) {
	kit := testKit(t)
	t.Setenv("PGHOSTADDR", "192.0.2.1") // would send psql elsewhere
	script := `test -n "$PGPASSWORD" || exit 9
test -z "$PGHOSTADDR" || exit 10
case "$*" in *"$PGPASSWORD"*) exit 11;; esac
echo "$PGHOST $PGPORT $PGUSER $PGDATABASE $PGSSLMODE $PGSSLROOTCERT"
exit 7`
	r := runCmd("psql", "--psql", "/bin/sh", kit.DSNs().M2M, "--", "-c", script, "sh", "extra-arg")
	gw := kit.InstanceGateway()
	want := strings.Join([]string{gw.Host(), strconv.Itoa(gw.Port()), kit.ServicePrincipal.ApplicationID, "databricks_postgres", "verify-full", kit.Postgres.CAFile()}, " ")
	if r.code != 7 || strings.TrimSpace(r.stdout) != want {
		t.Errorf("want exit 7 and %q; got\n%v", want, r)
	}
}

func TestPsqlMissingProgram(t *testing.T) {
	kit := testKit(t)
	r := runCmd("psql", "--psql", "no-such-psql-program", kit.DSNs().M2M)
	if r.code != exitFailure || !strings.Contains(r.stderr, "install the PostgreSQL client") {
		t.Errorf("want exit 1 and a hint; got\n%v", r)
	}
}
