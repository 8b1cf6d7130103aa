package lakebase_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
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
	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
	"github.com/lib/pq"
	_ "github.com/lib/pq" // the superuser's view of the server
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

// A Lakebase OAuth role made for a Databricks group lets the group's members
// log in as that role with their own credentials: user= names the group,
// the service principal's credential is minted as always, and the session
// runs as the group's role. A service principal outside the group is
// refused.
func TestGroupRoleLogin(t *testing.T) {
	t.Parallel()
	kit := sharedKit(t)
	member := newServicePrincipal(t, kit)
	outsider := newServicePrincipal(t, kit)
	group := uniqueName("data-team")
	if err := kit.AddGroup(context.Background(), group, member.ApplicationID); err != nil {
		t.Fatal(err)
	}
	dsn := "instance=" + lakebasetest.DefaultInstance + " user=" + quote(group) + " "

	_, db := openConnector(t, dsn+m2mKeys(kit, member))
	if got := mustCurrentUser(t, db); got != group {
		t.Errorf("current_user = %q, want the group's role %q", got, group)
	}
	if n := kit.Workspace.MintsFor(member.ApplicationID); n != 1 {
		t.Errorf("%d credentials minted for the member, want 1", n)
	}

	_, db = openConnector(t, dsn+m2mKeys(kit, outsider))
	err := db.PingContext(contextFor(t, 30*time.Second))
	var pe *pq.Error
	if !errors.As(err, &pe) || pe.Code != "28P01" {
		t.Fatalf("outsider as the group: %v, want 28P01", err)
	}
	wantConnectError(t, err, "login", `"`+group+`"`)
	var ce *lakebase.ConnectError
	if errors.As(err, &ce) && ce.User != group {
		t.Errorf("ConnectError.User = %q, want %q", ce.User, group)
	}
}

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

// The workspace rotates refresh tokens: each refresh answers with a new one
// and the used one stops working. The in-process oauth-u2m login keeps the
// rotated token in its file, so that later runs (new connectors on the same
// file) keep logging in without a browser, and the first refresh token is
// dead.
func TestAuthU2MKeepsRotatedRefreshToken(t *testing.T) {
	e := newFaultEnv(t)
	e.kit.Workspace.SetOAuthTokenLifetime(scaled(time.Second)) // every later run refreshes
	t.Cleanup(func() { e.kit.Workspace.SetOAuthTokenLifetime(0) })
	cacheDir := filepath.Join(t.TempDir(), "lakebase")
	// The browser visits the workspace itself, not the test's proxy.
	dsn := "instance=" + e.instance + " workspace=" + quote(e.kit.Workspace.URL()) + " auth=oauth-u2m " + tlsKeys(e.kit)

	run := func(browse func(string) error) {
		t.Helper()
		db, _ := e.open(dsn, func(c *lakebase.Config) {
			c.Browser = browse
			c.TokenCacheDir = cacheDir
		})
		if got := mustCurrentUser(t, db); got != e.kit.User.Email {
			t.Fatalf("current_user = %q, want %q", got, e.kit.User.Email)
		}
		db.Close()
	}
	run(e.kit.Workspace.OpenBrowser) // the browser login
	first, _ := cachedToken(t, cacheDir)
	e.keepSecret(first)

	for range 2 {
		_, expiry := cachedToken(t, cacheDir)
		waitFor(t, 10*time.Second, "the access token in the file expires", func() bool { return time.Now().After(expiry) })
		run(failingBrowser(t))
	}
	last, _ := cachedToken(t, cacheDir)
	e.keepSecret(last)
	if last == first {
		t.Fatal("the refresh token in the file was not replaced by the rotated one")
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first}, "client_id": {"databricks-cli"}}
	resp, err := http.PostForm(e.kit.Workspace.URL()+"/oidc/v1/token", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("the first refresh token still works (%s): it was not rotated", resp.Status)
	}
	e.waitNoLeaksAfterClose()
}

// cachedToken reads the refresh token and the access token's expiry of the
// one token in the u2m token file of dir.
func cachedToken(t *testing.T, dir string) (refreshToken string, expiry time.Time) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) != 1 {
		t.Fatalf("token files in %s: %v, %v", dir, files, err)
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var content struct {
		Tokens map[string]struct {
			RefreshToken string    `json:"refresh_token"`
			Expiry       time.Time `json:"expiry"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal(raw, &content); err != nil || len(content.Tokens) != 1 {
		t.Fatalf("token file: %v, %d tokens", err, len(content.Tokens))
	}
	for _, tok := range content.Tokens {
		return tok.RefreshToken, tok.Expiry
	}
	return "", time.Time{}
}

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
