// These tests run against the kit's fake workspace (lakebasetest.NewWorkspace).

package controlplane

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/lakebasetest"
)

// The identities and resources of the test workspace.
const (
	spID        = "6b0f7a52-0000-4000-8000-0000000000a1"
	spSecret    = "sp-s3cret"
	userEmail   = "ada@example.com"
	userPAT     = "dapi-user-s3cret"
	userRefresh = "user-refresh-s3cret"

	instName   = "orders-db"
	instRW     = "127.0.0.1:15432"
	instRO     = "127.0.0.1:15433"
	epPath     = "projects/shop/branches/main/endpoints/primary"
	epRW       = "127.0.0.1:16432"
	epRO       = "127.0.0.1:16433"
	epPooled   = "127.0.0.1:16434"
	epROPooled = "127.0.0.1:16435"
)

// cliVersion is what the fake Databricks CLI says its version is.
const cliVersion = "Databricks CLI v0.296.0"

// secrets are what no error, log line or output of a test may show.
var secrets = []string{spSecret, userPAT, userRefresh}

// startWorkspace starts a fake workspace with a service principal, a user, an
// instance and an endpoint, in a test that sees no Databricks settings of
// the machine, no Databricks CLI and no browser.
func startWorkspace(t *testing.T) *lakebasetest.Workspace {
	t.Helper()
	isolate(t)
	t.Setenv("PATH", t.TempDir())
	noBrowser(t)
	w := lakebasetest.NewWorkspace()
	t.Cleanup(w.Close)
	must(t, w.AddServicePrincipal(lakebasetest.ServicePrincipal{ApplicationID: spID, Secret: spSecret}))
	must(t, w.AddUser(lakebasetest.User{Email: userEmail, Token: userPAT, RefreshToken: userRefresh}))
	must(t, w.AddInstance(lakebasetest.Instance{Name: instName, ReadWriteHost: instRW, ReadOnlyHost: instRO}))
	must(t, w.AddEndpoint(lakebasetest.Endpoint{Path: epPath,
		Host: epRW, ReadOnlyHost: epRO, ReadWritePooledHost: epPooled, ReadOnlyPooledHost: epROPooled,
	}))
	return w
}

// noBrowser makes the test a process that cannot open a browser.
func noBrowser(t *testing.T) {
	t.Helper()
	saved := canOpenBrowser
	canOpenBrowser = func() bool { return false }
	t.Cleanup(func() { canOpenBrowser = saved })
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// m2m is the settings of the service principal.
func m2m(w *lakebasetest.Workspace) Settings {
	return Settings{Workspace: w.URL(), Auth: AuthM2M, ClientID: spID, ClientSecret: spSecret}
}

// pat is the settings of the user's personal access token.
func pat(w *lakebasetest.Workspace) Settings {
	return Settings{Workspace: w.URL(), Auth: AuthPAT, Token: userPAT}
}

// newClient is New that must succeed, under a deadline; the Client closes
// when the test ends.
func newClient(t *testing.T, s Settings) *Client {
	t.Helper()
	c, err := New(testContext(t), s)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// testContext ends with the test, and after 20 seconds at the latest.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// noSecret fails the test if s shows a secret.
func noSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range secrets {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows a secret: %s", what, s)
		}
	}
}

// fakeCLI puts a databricks command on PATH that answers `databricks
// version` with version and, for host only, `databricks auth token --host host` with
// token; for any other host it fails as a CLI without a login does. Every
// call is appended to the returned file. The SDK ignores executables under
// 1 MiB as the legacy Python CLI, hence the padding.
func fakeCLI(t *testing.T, version, host, token string) (calls string) {
	t.Helper()
	dir := t.TempDir()
	calls = filepath.Join(dir, "calls")
	expiry := time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)
	script := fmt.Sprintf(`#!/bin/sh
echo "$@" >> '%s'
if [ "$1" = version ]; then echo '%s'; exit 0; fi
if [ "$1" = auth ] && [ "$2" = token ] && [ "$3" = --host ] && [ "$4" = '%s' ]; then
  echo '{"access_token": "%s", "token_type": "Bearer", "expiry": "%s"}'
  exit 0
fi
echo "Error: no login for this host; run databricks auth login" >&2
exit 1
`, calls, version, host, token, expiry)
	script += "#" + strings.Repeat("x", 1<<20) + "\n"
	must(t, os.WriteFile(filepath.Join(dir, "databricks"), []byte(script), 0o700))
	t.Setenv("PATH", dir)
	return calls
}
