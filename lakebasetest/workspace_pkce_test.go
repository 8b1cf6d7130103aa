package lakebasetest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/credentials/u2m"
	"github.com/databricks/databricks-sdk-go/credentials/u2m/cache"
	"github.com/databricks/databricks-sdk-go/service/iam"
)

// TestWorkspacePKCELogin runs the SDK's browser login end to end: the SDK
// opens its callback server and "the browser", which is the workspace's
// OpenBrowser, visits the authorize URL and follows the redirect back.
func TestWorkspacePKCELogin(t *testing.T) {
	w, _ := wsStart(t)
	wsMust(t, w.SetBrowserUser(wsUserEmail))
	arg, err := u2m.NewBasicWorkspaceOAuthArgument(w.URL())
	wsMust(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	tc := cache.NewInMemoryTokenCache()
	pa, err := u2m.NewPersistentAuth(ctx,
		u2m.WithOAuthArgument(arg),
		u2m.WithTokenCache(tc),
		u2m.WithBrowser(w.OpenBrowser),
		u2m.WithPort(wsFreePort(t)))
	wsMust(t, err)
	if err := pa.Challenge(); err != nil {
		t.Fatalf("Challenge: %v (browser: %v)", err, w.BrowserError())
	}
	if w.Requests("authorize") != 1 {
		t.Errorf("authorize requests = %d, want 1", w.Requests("authorize"))
	}

	me, err := wsClient(t, w, wsTokenSourceConfig(pa)).CurrentUser.Me(ctx, iam.MeRequest{})
	if err != nil {
		t.Fatalf("Me: %v", err)
	}
	if me.UserName != wsUserEmail {
		t.Errorf("userName = %q, want %q", me.UserName, wsUserEmail)
	}

	// The login asked for offline_access, so it got a refresh token.
	if _, err := pa.ForceRefreshToken(); err != nil {
		t.Fatalf("refresh after browser login: %v", err)
	}
	if err := w.BrowserError(); err != nil {
		t.Errorf("browser: %v", err)
	}
}

// TestWorkspaceAuthorizationCodeChecks exchanges codes by hand to show what
// the token route refuses.
func TestWorkspaceAuthorizationCodeChecks(t *testing.T) {
	const (
		verifier = "a-verifier-of-the-client-that-is-long-enough-0123456789"
		redirect = "http://localhost:8020"
		clientID = "databricks-cli"
	)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])

	tests := []struct {
		name       string
		verifier   string
		redirect   string
		clientID   string
		reuse      bool
		wantStatus int
	}{
		{"valid", verifier, redirect, clientID, false, http.StatusOK},
		{"wrong verifier", verifier + "x", redirect, clientID, false, http.StatusBadRequest},
		{"no verifier", "", redirect, clientID, false, http.StatusBadRequest},
		{"other redirect uri", verifier, "http://localhost:8021", clientID, false, http.StatusBadRequest},
		{"other client", verifier, redirect, "other", false, http.StatusBadRequest},
		{"code used twice", verifier, redirect, clientID, true, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := wsStart(t)
			wsMust(t, w.SetBrowserUser(wsUserEmail))
			code := wsAuthorize(t, w, url.Values{
				"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {redirect},
				"state": {"st"}, "scope": {"all-apis offline_access"},
				"code_challenge": {challenge}, "code_challenge_method": {"S256"},
			}).Get("code")
			exchange := func() int {
				return wsExchange(t, w, url.Values{
					"grant_type": {"authorization_code"}, "code": {code},
					"redirect_uri": {tt.redirect}, "client_id": {tt.clientID}, "code_verifier": {tt.verifier},
				})
			}
			status := exchange()
			if tt.reuse {
				status = exchange()
			}
			if status != tt.wantStatus {
				t.Errorf("status = %d, want %d", status, tt.wantStatus)
			}
		})
	}
}

func TestWorkspaceAuthorizeRefusals(t *testing.T) {
	good := url.Values{
		"client_id": {"databricks-cli"}, "response_type": {"code"}, "redirect_uri": {"http://localhost:8020"},
		"state": {"st"}, "code_challenge": {"abc"}, "code_challenge_method": {"S256"},
	}
	with := func(key, value string) url.Values {
		v := url.Values{}
		for k, vs := range good {
			v[k] = vs
		}
		v.Set(key, value)
		return v
	}
	tests := []struct {
		name       string
		query      url.Values
		signedIn   bool
		wantError  string
		wantStatus int // when the route must not redirect
	}{
		{"nobody signed in", good, false, "access_denied", 0},
		{"no pkce", with("code_challenge", ""), true, "invalid_request", 0},
		{"plain pkce", with("code_challenge_method", "plain"), true, "invalid_request", 0},
		{"implicit flow", with("response_type", "token"), true, "unsupported_response_type", 0},
		{"remote redirect", with("redirect_uri", "http://example.com/cb"), true, "", http.StatusBadRequest},
		{"https redirect", with("redirect_uri", "https://localhost/cb"), true, "", http.StatusBadRequest},
		{"loopback address", with("redirect_uri", "http://127.0.0.1:8020"), true, "", http.StatusBadRequest},
		{"unregistered path", with("redirect_uri", "http://localhost:8020/cb"), true, "", http.StatusBadRequest},
		{"other client", with("client_id", "my-app"), true, "", http.StatusBadRequest},
		{"no client", with("client_id", ""), true, "", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := wsStart(t)
			if tt.signedIn {
				wsMust(t, w.SetBrowserUser(wsUserEmail))
			}
			resp := wsGetNoRedirect(t, w.URL()+"/oidc/v1/authorize?"+tt.query.Encode())
			if tt.wantStatus != 0 {
				if resp.StatusCode != tt.wantStatus {
					t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
				}
				return
			}
			loc, err := url.Parse(resp.Header.Get("Location"))
			wsMust(t, err)
			if got := loc.Query(); got.Get("error") != tt.wantError || got.Get("state") != "st" || got.Get("code") != "" {
				t.Errorf("redirect query = %v, want error %s and state st", got, tt.wantError)
			}
		})
	}
}

// wsAuthorize GETs the authorize route and returns the query of its redirect.
func wsAuthorize(t *testing.T, w *Workspace, q url.Values) url.Values {
	t.Helper()
	resp := wsGetNoRedirect(t, w.URL()+"/oidc/v1/authorize?"+q.Encode())
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize status = %d, want 302", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	wsMust(t, err)
	return loc.Query()
}

func wsGetNoRedirect(t *testing.T, rawURL string) *http.Response {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(rawURL)
	wsMust(t, err)
	resp.Body.Close()
	return resp
}

// wsExchange posts form to the token route and returns the status; a
// success must carry an access token.
func wsExchange(t *testing.T, w *Workspace, form url.Values) int {
	t.Helper()
	resp, err := http.Post(w.URL()+"/oidc/v1/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	wsMust(t, err)
	defer resp.Body.Close()
	var body wsTokenResponse
	wsMust(t, json.NewDecoder(resp.Body).Decode(&body))
	if resp.StatusCode == http.StatusOK && (body.AccessToken == "" || body.RefreshToken == "") {
		t.Errorf("token response lacks a token: %d", resp.StatusCode)
	}
	return resp.StatusCode
}
