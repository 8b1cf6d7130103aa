package main

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/lakebase-go/lakebase"
	_ "github.com/lib/pq"
)

func TestToken(t *testing.T) {
	kit := testKit(t)
	r := runCmd("token", kit.DSNs().M2M)
	if r.code != exitOK || r.stderr != "" {
		t.Fatalf("token failed:\n%v", r)
	}
	token, ok := strings.CutSuffix(r.stdout, "\n")
	if !ok || token == "" || strings.ContainsAny(token, "\n ") {
		t.Fatalf("stdout is not one credential on one line: %q", r.stdout)
	}

	// The credential logs in as a password, with lib/pq alone, at the
	// instance's gateway.
	gw := kit.InstanceGateway()
	db, err := sql.Open("postgres", fmt.Sprintf("host=%s port=%d user='%s' password='%s' dbname=%s sslmode=verify-full sslrootcert='%s'",
		gw.Host(), gw.Port(), kit.ServicePrincipal.ApplicationID, token, lakebase.DefaultDBName, kit.Postgres.CAFile()))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var user string
	if err := db.QueryRow("SELECT current_user").Scan(&user); err != nil {
		t.Fatalf("log in with the printed credential: %v", err)
	}
	if user != kit.ServicePrincipal.ApplicationID {
		t.Errorf("logged in as %q, want %q", user, kit.ServicePrincipal.ApplicationID)
	}
}

func TestTokenFailure(t *testing.T) {
	kit := testKit(t)
	const wrongSecret = "wrong-Secret-5678"
	r := runCmd("token", modifyDSN(t, kit.DSNs().M2M, func(c *lakebase.Config) { c.ClientSecret = wrongSecret }))
	if r.code != exitFailure || r.stdout != "" || !strings.Contains(r.stderr, "lakebase token: failed at step") {
		t.Errorf("want exit 1, nothing on stdout and the failed step on stderr; got\n%v", r)
	}
	assertNoSecret(t, r, append(kitSecrets(kit), wrongSecret)...)
}
