package lakebase_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// The redaction sweep in every auth mode: the fault matrix runs with
// oauth-m2m; here personal access tokens and native passwords meet faults
// too, wrong secrets are refused, and configurations are logged and printed.
// Every fault test sweeps its own logs and errors when it ends.
func TestFaultRedactionAuthModes(t *testing.T) {
	e := newFaultEnv(t)
	k := e.kit
	gw := k.InstanceGateway() // the default instance lets native roles in
	ca := quote(k.Postgres.CAFile())
	wrongSecret, wrongToken, wrongPassword := "sp-wrong-secret-9f8e7d6c", "dapi-wrong-token-1a2b3c4d", "native-wrong-5e6f7a8b"
	for _, s := range []string{wrongSecret, wrongToken, wrongPassword} {
		e.keepSecret(s)
	}
	pat := e.dsnWith("instance="+e.instance, "auth=pat token="+quote(k.User.Token))
	cases := []struct {
		name  string
		dsn   string
		fault func()
		ok    bool
	}{
		{"pat", pat, func() {}, true},
		{"pat throttled", pat, func() {
			k.Workspace.Fail("database-credential", lakebasetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second, Times: 1})
		}, true},
		{"pat revoked", pat, k.RevokeCredentials, true},
		{"pat wrong token", e.dsnWith("instance="+e.instance, "auth=pat token="+wrongToken), func() {}, false},
		{"m2m wrong secret", e.dsnFor(lakebasetest.ServicePrincipal{ApplicationID: k.ServicePrincipal.ApplicationID, Secret: wrongSecret}), func() {}, false},
		{"m2m 500", e.dsn(), func() {
			k.Workspace.Fail("database-credential", lakebasetest.Fault{Status: http.StatusInternalServerError, Times: 1})
		}, false},
		{"password", fmt.Sprintf("host=%s port=%d user=%s password=%s auth=password sslmode=verify-full sslrootcert=%s",
			gw.Host(), gw.Port(), k.NativeRole, quote(k.NativePassword), ca), func() {}, true},
		{"password wrong", fmt.Sprintf("host=%s port=%d user=%s password=%s auth=password sslmode=verify-full sslrootcert=%s",
			gw.Host(), gw.Port(), k.NativeRole, wrongPassword, ca), func() {}, false},
		{"password url", fmt.Sprintf("lakebase://%s:%s@%s:%d/databricks_postgres?sslmode=verify-full&sslrootcert=%s",
			k.NativeRole, wrongPassword, gw.Host(), gw.Port(), k.Postgres.CAFile()), func() {}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, c := e.open(tc.dsn)
			db.SetMaxIdleConns(0)
			if tc.ok { // a first connection, so that the fault meets a cached credential
				if err := e.ping(db, 10*time.Second); err != nil {
					t.Fatalf("Ping before the fault: %v", err)
				}
			}
			tc.fault()
			err := e.ping(db, 10*time.Second)
			if tc.ok != (err == nil) {
				t.Fatalf("Ping = %v; want success %v", err, tc.ok)
			}
			if tc.ok {
				tok, err := c.Credential(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				e.keepSecret(tok.Value)
				e.logs.logger.Info("credential", "token", tok)
				e.record(fmt.Errorf("printed: %v %+v %#v %s", tok, tok, tok, tok))
			}
			cfg, err := lakebase.ParseDSN(tc.dsn)
			if err != nil {
				t.Fatal(err)
			}
			e.logs.logger.Debug("config", "config", cfg, "connector", c)
			e.record(fmt.Errorf("printed: %v %+v %#v", c, c, c))
			e.record(fmt.Errorf("printed: %v %+v %#v %s", cfg, cfg, *cfg, cfg))
			k.Workspace.ClearFaults()
		})
	}
	if n := e.logs.Lines(); n < 10 {
		t.Errorf("only %d log lines were captured; is the logger wired?", n)
	}
}
