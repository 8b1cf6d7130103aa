package lakebase_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// Each auth mode logs in as its identity: the Postgres role the session runs
// as is the service principal's application id, the user's e-mail or the
// native role.
func TestAuthModesLogInAsTheirIdentity(t *testing.T) {
	t.Parallel()
	kit := sharedKit(t)
	dsns := kit.DSNs()
	cases := []struct {
		name, dsn, want string
	}{
		{"oauth-m2m", dsns.M2M, kit.ServicePrincipal.ApplicationID},
		{"pat", dsns.PAT, kit.User.Email},
		{"password", dsns.Password, kit.NativeRole},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logs := newLogCapture()
			conn, db := openConnector(t, tc.dsn, withLogger(logs))
			wantCurrentUser(t, db, tc.want)
			s := kitSecrets(kit)
			s.addCredential(t, conn)
			s.check(t, logs)
		})
	}
}

// With auth unset and a service principal in the environment, unified
// authentication logs in as that service principal.
func TestAuthUnsetUsesServicePrincipalFromEnvironment(t *testing.T) {
	kit := sharedKit(t)
	t.Setenv("DATABRICKS_CLIENT_ID", kit.ServicePrincipal.ApplicationID)
	t.Setenv("DATABRICKS_CLIENT_SECRET", kit.ServicePrincipal.Secret)
	dsn := fmt.Sprintf("instance=%s workspace=%s %s", lakebasetest.DefaultInstance, quote(kit.Workspace.URL()), tlsKeys(kit))
	logs := newLogCapture()
	conn, db := openConnector(t, dsn, withLogger(logs))
	if got := mustCurrentUser(t, db); got != kit.ServicePrincipal.ApplicationID {
		t.Errorf("current_user = %q, want the service principal %q", got, kit.ServicePrincipal.ApplicationID)
	}
	s := kitSecrets(kit)
	s.addCredential(t, conn)
	s.check(t, logs)
}

// userAccessToken logs the kit's default user in with their refresh token,
// as the Databricks CLI does, and returns a workspace access token and its
// lifetime.
func userAccessToken(t *testing.T, kit *lakebasetest.Kit) (token string, expiresIn time.Duration) {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {kit.User.RefreshToken}, "client_id": {"databricks-cli"}}
	resp, err := http.PostForm(kit.Workspace.URL()+"/oidc/v1/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		t.Fatalf("refresh token grant: %s, %v", resp.Status, err)
	}
	return body.AccessToken, time.Duration(body.ExpiresIn) * time.Second
}

// fakeCLI writes a `databricks` command into a new directory and returns the
// directory and the file the command appends its arguments to. It answers
// `version` and `auth token --host <host>` with token, as the Databricks CLI
// does for a user who ran `databricks auth login`; for any other host it
// fails as the CLI does without a login.
func fakeCLI(t *testing.T, host, token string, expiry time.Time) (dir, calls string) {
	t.Helper()
	dir = t.TempDir()
	calls = filepath.Join(dir, "calls")
	answer, err := json.Marshal(map[string]string{
		"access_token": token,
		"token_type":   "Bearer",
		"expiry":       expiry.UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`#!/bin/sh
echo "$*" >> %[1]s
case "$1" in
version) echo "Databricks CLI v0.296.0"; exit 0 ;;
esac
if [ "$1 $2 $3 $4" = "auth token --host %[2]s" ]; then
	echo '%[3]s'
	exit 0
fi
echo "Error: no login for this host; run databricks auth login" >&2
exit 1
`, quoteShell(calls), host, answer)
	// The SDK takes a command smaller than 1 MiB for the legacy Python CLI
	// and refuses it; after exit, the padding is never read.
	padding := strings.Repeat("# padding for the SDK's size check of the Databricks CLI\n", (1<<20)/56+1)
	if err := os.WriteFile(filepath.Join(dir, "databricks"), []byte(script+padding), 0o700); err != nil {
		t.Fatal(err)
	}
	return dir, calls
}

// quoteShell quotes s for a POSIX shell.
func quoteShell(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// loggedInCLI puts first on PATH a Databricks CLI logged in to kit's
// workspace as its user, and returns the CLI's token and the file that
// records its calls.
func loggedInCLI(t *testing.T, kit *lakebasetest.Kit) (token, calls string) {
	t.Helper()
	token, life := userAccessToken(t, kit)
	dir, calls := fakeCLI(t, kit.Workspace.URL(), token, time.Now().Add(life))
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return token, calls
}

// oauth-u2m with the Databricks CLI logged in: the driver takes the CLI's
// token and logs in as the user, without a browser.
func TestAuthU2MThroughDatabricksCLI(t *testing.T) {
	kit := sharedKit(t)
	token, calls := loggedInCLI(t, kit)

	logs := newLogCapture()
	conn, db := openConnector(t, kit.DSNs().U2M, func(c *lakebase.Config) {
		c.Logger = logs.logger
		c.Browser = failingBrowser(t)
		c.TokenCacheDir = t.TempDir()
	})
	if got := mustCurrentUser(t, db); got != kit.User.Email {
		t.Errorf("current_user = %q, want the user %q", got, kit.User.Email)
	}
	called, err := os.ReadFile(calls)
	if err != nil || !strings.Contains(string(called), "auth token --host "+kit.Workspace.URL()) {
		t.Errorf("the Databricks CLI was not asked for a token (calls: %q, %v)", called, err)
	}
	kitSecrets(kit, token).addCredential(t, conn).check(t, logs)
}

// oauth-u2m without a CLI login: the in-process browser login (PKCE) runs
// once and keeps its refresh token in a private file; a later connector logs
// in from that file without opening a browser.
func TestAuthU2MBrowserLoginThenFileCache(t *testing.T) {
	t.Parallel()
	kit := sharedKit(t)
	cacheDir := filepath.Join(t.TempDir(), "lakebase")
	s := kitSecrets(kit)

	var opened atomic.Int32
	browse := func(u string) error {
		opened.Add(1)
		return kit.Workspace.OpenBrowser(u)
	}
	logs := newLogCapture()
	conn, db := openConnector(t, kit.DSNs().U2M, func(c *lakebase.Config) {
		c.Logger = logs.logger
		c.Browser = browse
		c.TokenCacheDir = cacheDir
	})
	if got := mustCurrentUser(t, db); got != kit.User.Email {
		t.Errorf("current_user after the browser login = %q, want %q", got, kit.User.Email)
	}
	if n := opened.Load(); n != 1 {
		t.Errorf("the browser was opened %d times, want once", n)
	}
	if err := kit.Workspace.BrowserError(); err != nil {
		t.Errorf("browser: %v", err)
	}
	s.addCredential(t, conn)
	db.Close()

	files, err := os.ReadDir(cacheDir)
	if err != nil || len(files) == 0 {
		t.Fatalf("no token cache in %s: %v", cacheDir, err)
	}
	for _, f := range files {
		if filepath.Ext(f.Name()) != ".json" {
			continue // the lock file beside the cache
		}
		info, err := f.Info()
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("token cache %s has mode %v, want 0600", f.Name(), perm)
		}
		cached, err := os.ReadFile(filepath.Join(cacheDir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var content struct {
			Tokens map[string]struct {
				RefreshToken string `json:"refresh_token"`
				AccessToken  string `json:"access_token"`
			} `json:"tokens"`
		}
		if err := json.Unmarshal(cached, &content); err != nil {
			t.Fatalf("token cache: %v", err)
		}
		for _, tok := range content.Tokens {
			s.add(tok.RefreshToken, tok.AccessToken)
		}
	}
	if info, err := os.Stat(cacheDir); err != nil {
		t.Error(err)
	} else if perm := info.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("token cache directory has mode %v, want 0700", perm)
	}

	conn2, db2 := openConnector(t, kit.DSNs().U2M, func(c *lakebase.Config) {
		c.Logger = logs.logger
		c.Browser = failingBrowser(t)
		c.TokenCacheDir = cacheDir
	})
	if got := mustCurrentUser(t, db2); got != kit.User.Email {
		t.Errorf("current_user from the cached login = %q, want %q", got, kit.User.Email)
	}
	s.addCredential(t, conn2)
	s.check(t, logs)
}

// Every other login method of the Databricks SDK is accepted by its name
// and passed to the SDK; a name the SDK does not know is a DSN error that
// lists them.
func TestAuthSDKTypesParse(t *testing.T) {
	for _, name := range []string{"azure-cli", "azure-client-secret", "azure-msi", "azure-devops-oidc", "github-oidc",
		"github-oidc-azure", "env-oidc", "file-oidc", "google-credentials", "google-id", "databricks-cli", "metadata-service"} {
		cfg, err := lakebase.ParseDSN("instance=db auth=" + strings.ToUpper(name))
		if err != nil || string(cfg.Auth) != name {
			t.Errorf("auth=%s: %v, %v", name, cfg, err)
			continue
		}
		if _, err := lakebase.ParseDSN("endpoint=projects/p/branches/b/endpoints/e pooled=true auth=" + name); err != nil {
			t.Errorf("auth=%s with pooled=true on an endpoint: %v, want it accepted (the pooler takes OAuth roles)", name, err)
		}
	}
	_, err := lakebase.ParseDSN("instance=db auth=azure-magic")
	if !errors.Is(err, lakebase.ErrInvalidDSN) || !strings.Contains(err.Error(), "azure-client-secret") {
		t.Errorf("auth=azure-magic: %v, want ErrInvalidDSN listing the SDK's auth types", err)
	}
}

// auth=databricks-cli is the SDK's own Databricks CLI login, chosen by name:
// the driver logs in as the CLI's user through it.
func TestAuthDatabricksCLIByName(t *testing.T) {
	kit := sharedKit(t)
	token, calls := loggedInCLI(t, kit)
	logs := newLogCapture()
	conn, db := openConnector(t, "instance="+lakebasetest.DefaultInstance+" auth=databricks-cli workspace="+quote(kit.Workspace.URL())+" "+tlsKeys(kit),
		withLogger(logs))
	if got := mustCurrentUser(t, db); got != kit.User.Email {
		t.Errorf("current_user = %q, want the CLI's user %q", got, kit.User.Email)
	}
	if called, err := os.ReadFile(calls); err != nil || !strings.Contains(string(called), "auth token") {
		t.Errorf("the Databricks CLI was not asked for a token (calls: %q, %v)", called, err)
	}
	kitSecrets(kit, token).addCredential(t, conn).check(t, logs)
}

// An Azure or GCP workspace (the host metadata's cloud) goes through every
// path the driver owns as an AWS one does: the identity's user name (the
// service principal's application id, a person's e-mail from SCIM), the
// instance and endpoint lookups, the mints, and the errors.
func TestWorkspaceClouds(t *testing.T) {
	for _, cloud := range []string{"Azure", "GCP", "AWS"} {
		t.Run(cloud, func(t *testing.T) {
			e := newFaultEnv(t)
			if err := e.kit.Workspace.SetCloud(cloud); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = e.kit.Workspace.SetCloud("AWS") })
			sp := e.kit.ServicePrincipal

			db, _ := e.open(e.dsn())
			if got := mustCurrentUser(t, db); got != sp.ApplicationID {
				t.Errorf("m2m: current_user = %q, want %q", got, sp.ApplicationID)
			}
			db, _ = e.open(e.dsnWith("instance="+e.instance, "auth=pat token="+quote(e.kit.User.Token)))
			if got := mustCurrentUser(t, db); got != e.kit.User.Email {
				t.Errorf("pat: current_user = %q, want %q", got, e.kit.User.Email)
			}
			db, _ = e.open(e.dsnWith("endpoint="+lakebasetest.DefaultEndpoint, m2mAuth(sp)))
			if got := mustCurrentUser(t, db); got != sp.ApplicationID {
				t.Errorf("endpoint: current_user = %q, want %q", got, sp.ApplicationID)
			}
			db, _ = e.open(e.dsnWith("instance=no-such-"+strings.ToLower(string(cloud)), m2mAuth(sp)))
			err := e.ping(db, 10*time.Second)
			wantConnectError(t, err, "resolve", strconv.Quote("no-such-"+strings.ToLower(string(cloud))), "not found")
			if !errors.Is(err, lakebase.ErrNotFound) {
				t.Errorf("errors.Is(%v, ErrNotFound) = false", err)
			}
			e.waitNoLeaksAfterClose()
		})
	}
}
