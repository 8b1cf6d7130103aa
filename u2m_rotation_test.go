package lakebase_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase"
)

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
