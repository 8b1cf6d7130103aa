package lakebasetest

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/credentials/u2m"
	"github.com/databricks/databricks-sdk-go/service/iam"
)

func TestWorkspaceLogins(t *testing.T) {
	tests := []struct {
		name      string
		cfg       func(*testing.T, *Workspace) *databricks.Config
		want      string
		wantToken bool // the login goes through the token route
	}{
		{"oauth-m2m", func(*testing.T, *Workspace) *databricks.Config { return wsM2M() }, wsSPID, true},
		{"pat", func(*testing.T, *Workspace) *databricks.Config { return wsPAT(wsUserPAT) }, wsUserEmail, false},
		{"refresh token", func(t *testing.T, w *Workspace) *databricks.Config { return wsRefreshLogin(t, w, wsUserRT) }, wsUserEmail, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := wsStart(t)
			c := wsClient(t, w, tt.cfg(t, w))
			me, err := c.CurrentUser.Me(t.Context(), iam.MeRequest{})
			if err != nil {
				t.Fatalf("Me: %v", err)
			}
			if me.UserName != tt.want {
				t.Errorf("userName = %q, want %q", me.UserName, tt.want)
			}
			if got := w.Requests("token") > 0; got != tt.wantToken {
				t.Errorf("token route used = %v, want %v", got, tt.wantToken)
			}
			if w.Requests("me") != 1 {
				t.Errorf("Me requests = %d, want 1", w.Requests("me"))
			}
		})
	}
}

func TestWorkspaceRejectsBadLogins(t *testing.T) {
	isInvalidRefreshToken := func(err error) bool {
		var target *u2m.InvalidRefreshTokenError
		return errors.As(err, &target)
	}
	tests := []struct {
		name  string
		cfg   func(*testing.T, *Workspace) *databricks.Config
		check func(error) bool
	}{
		{"unknown pat", func(*testing.T, *Workspace) *databricks.Config { return wsPAT("dapi-wrong") },
			func(err error) bool { return errors.Is(err, databricks.ErrUnauthenticated) }},
		{"wrong client secret", func(*testing.T, *Workspace) *databricks.Config {
			cfg := wsM2M()
			cfg.ClientSecret = "wrong"
			return cfg
		}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "invalid_client") }},
		{"unknown refresh token", func(t *testing.T, w *Workspace) *databricks.Config { return wsRefreshLogin(t, w, "wrong") },
			isInvalidRefreshToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := wsStart(t)
			_, err := wsClient(t, w, tt.cfg(t, w)).CurrentUser.Me(t.Context(), iam.MeRequest{})
			if !tt.check(err) {
				t.Fatalf("Me error = %v", err)
			}
			if w.Requests("me") > 1 {
				t.Errorf("Me requests = %d, want at most 1", w.Requests("me"))
			}
		})
	}
}

func TestWorkspaceMissingBearerToken(t *testing.T) {
	w, _ := wsStart(t)
	resp, err := http.Get(w.URL() + "/api/2.0/database/instances/" + wsInstance)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusUnauthorized || body.ErrorCode != "UNAUTHENTICATED" || body.Message == "" {
		t.Errorf("got %d %+v, want 401 UNAUTHENTICATED with a message", resp.StatusCode, body)
	}
}

func TestWorkspaceExpiredAccessToken(t *testing.T) {
	var ahead atomic.Int64 // how far the workspace's clock runs ahead
	w, _ := wsStartClock(t, func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) })
	c := wsClient(t, w, wsM2M())
	if _, err := c.CurrentUser.Me(t.Context(), iam.MeRequest{}); err != nil {
		t.Fatalf("Me: %v", err)
	}
	// The SDK still holds the token for an hour by its own clock; the
	// workspace's clock says it has expired.
	ahead.Store(int64(2 * time.Hour))
	_, err := c.CurrentUser.Me(t.Context(), iam.MeRequest{})
	if !errors.Is(err, databricks.ErrUnauthenticated) {
		t.Fatalf("Me error = %v, want ErrUnauthenticated", err)
	}
}

// TestWorkspaceClientCredentials checks both ways a client may send its
// secret (HTTP Basic with form-encoded parts, as x/oauth2 does, and the form
// body) and the lifetime of the access token.
func TestWorkspaceClientCredentials(t *testing.T) {
	const id, secret = "app+1", "s3cr/t=&+"
	tests := []struct {
		name       string
		basic      bool
		secret     string
		wantStatus int
	}{
		{"basic", true, secret, http.StatusOK},
		{"form", false, secret, http.StatusOK},
		{"basic wrong secret", true, "nope", http.StatusUnauthorized},
		{"form wrong secret", false, "nope", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := wsStart(t)
			wsMust(t, w.AddServicePrincipal(ServicePrincipal{ApplicationID: id, Secret: secret}))
			w.SetOAuthTokenLifetime(90 * time.Second)
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"all-apis"}}
			if !tt.basic {
				form.Set("client_id", id)
				form.Set("client_secret", tt.secret)
			}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, w.URL()+"/oidc/v1/token", strings.NewReader(form.Encode()))
			wsMust(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.basic {
				req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(tt.secret))
			}
			resp, err := http.DefaultClient.Do(req)
			wsMust(t, err)
			defer resp.Body.Close()
			var body wsTokenResponse
			wsMust(t, json.NewDecoder(resp.Body).Decode(&body))
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if resp.StatusCode == http.StatusOK && (body.AccessToken == "" || body.ExpiresIn != 90 || body.TokenType != "Bearer" || body.RefreshToken != "") {
				t.Errorf("token response = %d s, type %q, refresh token given %v", body.ExpiresIn, body.TokenType, body.RefreshToken != "")
			}
		})
	}
}
