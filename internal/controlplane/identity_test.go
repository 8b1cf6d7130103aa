package controlplane

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"golang.org/x/oauth2"
)

func TestUserNameM2MMakesNoCall(t *testing.T) {
	w := startWorkspace(t)
	c := newClient(t, m2m(w))
	name, err := c.UserName(testContext(t))
	if err != nil || name != spID {
		t.Fatalf("UserName = %q, %v; want %q", name, err, spID)
	}
	if n := w.Requests("me") + w.Requests("token"); n != 0 {
		t.Errorf("UserName of oauth-m2m made %d requests, want none", n)
	}
}

func TestUserNameAsksSCIM(t *testing.T) {
	tests := []struct {
		name string
		s    func(w *lakebasetest.Workspace) Settings
		env  map[string]string
		want string
	}{
		{"pat", pat, nil, userEmail},
		{"unified with a token", func(w *lakebasetest.Workspace) Settings { return Settings{Workspace: w.URL()} },
			map[string]string{"DATABRICKS_TOKEN": userPAT}, userEmail},
		{"unified with a service principal", func(w *lakebasetest.Workspace) Settings { return Settings{} },
			map[string]string{"DATABRICKS_CLIENT_ID": spID, "DATABRICKS_CLIENT_SECRET": spSecret}, spID},
		{"password mode looks up with unified login", func(w *lakebasetest.Workspace) Settings {
			return Settings{Workspace: w.URL(), Auth: AuthPassword, Token: userPAT}
		}, nil, userEmail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := startWorkspace(t)
			t.Setenv("DATABRICKS_HOST", w.URL())
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c := newClient(t, tt.s(w))
			name, err := c.UserName(testContext(t))
			if err != nil || name != tt.want {
				t.Fatalf("UserName = %q, %v; want %q", name, err, tt.want)
			}
			if n := w.Requests("me"); n != 1 {
				t.Errorf("%d SCIM Me requests, want 1", n)
			}
		})
	}
}

func TestUserNameRejected(t *testing.T) {
	w := startWorkspace(t)
	c := newClient(t, Settings{Workspace: w.URL(), Auth: AuthPAT, Token: "dapi-wrong"})
	_, err := c.UserName(testContext(t))
	var apiErr *apierr.APIError
	if !errors.Is(err, ErrUnauthenticated) || !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Fatalf("UserName with a wrong token: %v, want ErrUnauthenticated from a 401", err)
	}
	if !strings.HasPrefix(err.Error(), "lakebase: identity: ") || strings.Contains(err.Error(), "dapi-wrong") {
		t.Errorf("error %q: want the identity step and no token", err)
	}
}

func TestM2MWrongSecret(t *testing.T) {
	w := startWorkspace(t)
	s := m2m(w)
	s.ClientSecret = "wrong-s3cret"
	c := newClient(t, s)
	_, err := c.Instance(testContext(t), instName)
	if !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("Instance with a wrong client secret: %v, want ErrUnauthenticated", err)
	}
	if strings.Contains(err.Error(), "wrong-s3cret") {
		t.Errorf("error shows the secret: %v", err)
	}
}

func TestU2MFromDatabricksCLI(t *testing.T) {
	w := startWorkspace(t)
	calls := fakeCLI(t, cliVersion, w.URL(), userPAT)
	c := newClient(t, Settings{Workspace: w.URL(), Auth: AuthU2M, TokenCacheDir: t.TempDir()})
	name, err := c.UserName(testContext(t))
	if err != nil || name != userEmail {
		t.Fatalf("UserName = %q, %v; want %q", name, err, userEmail)
	}
	log, _ := os.ReadFile(calls)
	if !strings.Contains(string(log), "auth token --host "+w.URL()) {
		t.Errorf("the CLI was called as:\n%s", log)
	}
	if n := w.Requests("token") + w.Requests("authorize"); n != 0 {
		t.Errorf("%d OAuth requests; the CLI's login should have been used", n)
	}
}

func TestU2MNoLoginNonInteractive(t *testing.T) {
	w := startWorkspace(t)
	fakeCLI(t, cliVersion, "https://another.example", "x") // installed, but not logged in to this workspace
	start := time.Now()
	_, err := New(testContext(t), Settings{Workspace: w.URL(), Auth: AuthU2M, TokenCacheDir: t.TempDir()})
	if !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("New: %v, want ErrUnauthenticated", err)
	}
	for _, want := range []string{"run `databricks auth login --host " + w.URL() + "`", "no login for this host"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("New took %s to give up", d)
	}
	if w.Requests("authorize") != 0 {
		t.Error("a browser login was attempted")
	}
}

// seedTokenCache writes the cache file of an earlier in-process login to
// host, whose access token has expired.
func seedTokenCache(t *testing.T, dir, host, refresh string) {
	t.Helper()
	c, err := newFileTokenCache(dir)
	must(t, err)
	must(t, c.Store(host, &oauth2.Token{AccessToken: "stale", RefreshToken: refresh, TokenType: "Bearer", Expiry: time.Now().Add(-time.Hour)}))
}

func TestU2MFromCachedRefreshToken(t *testing.T) {
	w := startWorkspace(t)
	dir := t.TempDir()
	seedTokenCache(t, dir, w.URL(), userRefresh)
	c := newClient(t, Settings{Workspace: w.URL(), Auth: AuthU2M, TokenCacheDir: dir})
	name, err := c.UserName(testContext(t))
	if err != nil || name != userEmail {
		t.Fatalf("UserName = %q, %v; want %q", name, err, userEmail)
	}
	if w.Requests("authorize") != 0 {
		t.Error("a browser login was attempted")
	}
	var content tokenCacheContent
	data, err := os.ReadFile(filepath.Join(dir, tokenCacheFile))
	must(t, err)
	must(t, json.Unmarshal(data, &content))
	if tok := content.Tokens[w.URL()]; tok == nil || tok.AccessToken == "stale" || !tok.Expiry.After(time.Now()) {
		t.Errorf("the refreshed token was not stored: %+v", tok)
	}
}

func TestU2MRefusesSharedTokenCache(t *testing.T) {
	w := startWorkspace(t)
	dir := t.TempDir()
	seedTokenCache(t, dir, w.URL(), userRefresh)
	must(t, os.Chmod(filepath.Join(dir, tokenCacheFile), 0o644))
	_, err := New(testContext(t), Settings{Workspace: w.URL(), Auth: AuthU2M, TokenCacheDir: dir, Browser: w.OpenBrowser})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("New with a shared token cache: %v, want ErrConfig telling to chmod", err)
	}
	noSecret(t, "error", err.Error())
	if w.Requests("token")+w.Requests("authorize") != 0 {
		t.Error("the shared cache's refresh token was used, or a new login started")
	}
}

func TestU2MBrowserLoginThenCache(t *testing.T) {
	w := startWorkspace(t)
	must(t, w.SetBrowserUser(userEmail))
	// Access tokens that are always within the SDK's refresh margin, so
	// that the second run must refresh from the file.
	w.SetOAuthTokenLifetime(2 * time.Minute)
	dir := t.TempDir()

	c := newClient(t, Settings{Workspace: w.URL(), Auth: AuthU2M, TokenCacheDir: dir, Browser: w.OpenBrowser})
	name, err := c.UserName(testContext(t))
	if err != nil || name != userEmail {
		t.Fatalf("UserName after the browser login = %q, %v; want %q", name, err, userEmail)
	}
	if err := w.BrowserError(); err != nil {
		t.Fatalf("browser: %v", err)
	}
	if n := w.Requests("authorize"); n != 1 {
		t.Fatalf("%d authorize requests, want 1", n)
	}
	info, err := os.Stat(filepath.Join(dir, tokenCacheFile))
	must(t, err)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("token cache mode %#o, want 0600", info.Mode().Perm())
	}

	// A later run, with no browser: the refresh token in the file suffices.
	tokens := w.Requests("token")
	c = newClient(t, Settings{Workspace: w.URL(), Auth: AuthU2M, TokenCacheDir: dir})
	name, err = c.UserName(testContext(t))
	if err != nil || name != userEmail {
		t.Fatalf("UserName from the cache = %q, %v; want %q", name, err, userEmail)
	}
	if n := w.Requests("authorize"); n != 1 {
		t.Errorf("%d authorize requests after the cached run, want still 1", n)
	}
	if w.Requests("token") == tokens {
		t.Error("the cached run did not refresh its token")
	}
}

func TestU2MBrowserFails(t *testing.T) {
	w := startWorkspace(t)
	start := time.Now()
	_, err := New(testContext(t), Settings{Workspace: w.URL(), Auth: AuthU2M, TokenCacheDir: t.TempDir(),
		Browser: func(string) error { return errors.New("no browser here") }})
	if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "no browser here") {
		t.Fatalf("New: %v, want ErrUnauthenticated naming the browser's failure", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("New took %s to give up", d)
	}
}

func TestU2MCachedLoginRevoked(t *testing.T) {
	w := startWorkspace(t)
	dir := t.TempDir()
	seedTokenCache(t, dir, w.URL(), "revoked-s3cret")
	_, err := New(testContext(t), Settings{Workspace: w.URL(), Auth: AuthU2M, TokenCacheDir: dir})
	if !errors.Is(err, ErrUnauthenticated) || !strings.Contains(err.Error(), "the cached login") ||
		!strings.Contains(err.Error(), "databricks auth login --host") {
		t.Fatalf("New with a revoked refresh token: %v, want ErrUnauthenticated explaining both", err)
	}
	if strings.Contains(err.Error(), "revoked-s3cret") {
		t.Errorf("error shows the refresh token: %v", err)
	}
}
