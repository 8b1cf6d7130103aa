package lakebasetest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// wsAccessToken is an OAuth access token the token route issued.
type wsAccessToken struct {
	identity string
	expiry   time.Time
}

// wsTokenResponse is the token route's answer (RFC 6749 5.1).
type wsTokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// SetOAuthTokenLifetime sets how long the access tokens of the token route
// live, rounded up to whole seconds; d <= 0 restores the default of one
// hour. Tokens already issued keep their expiry.
func (w *Workspace) SetOAuthTokenLifetime(d time.Duration) {
	if d <= 0 {
		d = defaultOAuthTokenLifetime
	}
	d = (d + time.Second - 1).Truncate(time.Second)
	w.mu.Lock()
	w.tokenLifetime = d
	w.mu.Unlock()
}

// SetCloud sets the cloud that the workspace's host metadata names: "AWS"
// (the default), "Azure" or "GCP", as an *.azuredatabricks.net or
// *.gcp.databricks.com workspace answers. The SDK takes the cloud from
// there, whatever the host name, for clients made from now on.
func (w *Workspace) SetCloud(cloud string) error {
	switch cloud {
	case "AWS", "Azure", "GCP":
	default:
		return fmt.Errorf("lakebasetest: set cloud: want AWS, Azure or GCP, got %q", cloud)
	}
	w.mu.Lock()
	w.cloud = cloud
	w.mu.Unlock()
	return nil
}

// serveHostMetadata answers /.well-known/databricks-config, from which the
// SDK learns the host type and where OIDC discovery lives.
func (w *Workspace) serveHostMetadata(rw http.ResponseWriter, _ *http.Request) {
	w.mu.Lock()
	cloud := w.cloud
	w.mu.Unlock()
	wsWriteJSON(rw, map[string]any{
		"oidc_endpoint": w.url + "/oidc",
		"workspace_id":  "7000000000000001",
		"cloud":         cloud,
		"host_type":     "WORKSPACE_HOST",
		"token_federation_default_oidc_audiences": []string{w.url + "/oidc/v1/token"},
	})
}

// serveDiscovery answers OAuth 2.0 authorization server metadata (RFC 8414).
func (w *Workspace) serveDiscovery(rw http.ResponseWriter, _ *http.Request) {
	wsWriteJSON(rw, map[string]any{
		"issuer":                                w.url + "/oidc",
		"authorization_endpoint":                w.url + "/oidc/v1/authorize",
		"token_endpoint":                        w.url + "/oidc/v1/token",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"client_credentials", "refresh_token", "authorization_code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"scopes_supported":                      []string{"all-apis", "offline_access", "sql"},
	})
}

// serveToken is the OAuth token endpoint.
func (w *Workspace) serveToken(rw http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		wsWriteOAuthError(rw, http.StatusBadRequest, "invalid_request", "malformed form body")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "client_credentials":
		w.grantClientCredentials(rw, r)
	case "refresh_token":
		w.grantRefreshToken(rw, r)
	case "authorization_code":
		w.grantAuthorizationCode(rw, r)
	default:
		wsWriteOAuthError(rw, http.StatusBadRequest, "unsupported_grant_type", "grant_type is not supported")
	}
}

// grantClientCredentials logs a service principal in. The client id and
// secret come in HTTP Basic authentication (form-encoded first, as RFC 6749
// 2.3.1 says) or in the form body.
func (w *Workspace) grantClientCredentials(rw http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	w.mu.Lock()
	sp, known := w.sps[id]
	w.mu.Unlock()
	if !known || subtle.ConstantTimeCompare([]byte(sp.Secret), []byte(secret)) != 1 {
		wsWriteOAuthError(rw, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
		return
	}
	w.writeToken(rw, r, sp.ApplicationID, "")
}

// The OAuth app of the Databricks CLI, which the SDK's user login uses: a
// public client whose only registered redirect is the SDK's callback.
const (
	cliClientID    = "databricks-cli"
	cliRedirectURI = "http://localhost:8020"
)

// grantRefreshToken logs a user in with a refresh token of the CLI's app,
// and rotates it: the answer carries a new refresh token, and the one used
// stops working, so a client must keep the new one. The refresh token a
// test registers with AddUser stands for a login made elsewhere (the CLI's)
// and is not used up.
func (w *Workspace) grantRefreshToken(rw http.ResponseWriter, r *http.Request) {
	id, _, ok := r.BasicAuth()
	if !ok {
		id = r.PostForm.Get("client_id")
	}
	if id != cliClientID {
		wsWriteOAuthError(rw, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
		return
	}
	rt := r.PostForm.Get("refresh_token")
	w.mu.Lock()
	email, ok := w.refreshTokens[rt]
	next := rt
	if ok && !w.registeredRefreshToken(rt) {
		next = wsRandomToken()
		delete(w.refreshTokens, rt)
		w.refreshTokens[next] = email
	}
	w.mu.Unlock()
	if rt == "" || !ok {
		// The SDK's u2m package recognises this exact description.
		wsWriteOAuthError(rw, http.StatusBadRequest, "invalid_grant", "Refresh token is invalid")
		return
	}
	w.writeToken(rw, r, email, next)
}

// registeredRefreshToken reports whether rt is a user's RefreshToken of
// AddUser; w.mu must be held.
func (w *Workspace) registeredRefreshToken(rt string) bool {
	for _, u := range w.users {
		if u.RefreshToken == rt {
			return true
		}
	}
	return false
}

// grantAuthorizationCode exchanges a code from the authorize route, checking
// the client, the redirect URI and the PKCE verifier. Codes work once.
func (w *Workspace) grantAuthorizationCode(rw http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	w.mu.Lock()
	c, ok := w.codes[f.Get("code")]
	delete(w.codes, f.Get("code"))
	w.mu.Unlock()
	switch {
	case !ok || !w.store.now().Before(c.expiry):
		wsWriteOAuthError(rw, http.StatusBadRequest, "invalid_grant", "authorization code is invalid or expired")
		return
	case f.Get("client_id") != c.clientID || f.Get("redirect_uri") != c.redirectURI:
		wsWriteOAuthError(rw, http.StatusBadRequest, "invalid_grant", "client_id or redirect_uri does not match the authorization request")
		return
	case !wsVerifierMatches(f.Get("code_verifier"), c.challenge):
		wsWriteOAuthError(rw, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
		return
	}
	refresh := ""
	if c.offline {
		refresh = wsRandomToken()
		w.mu.Lock()
		w.refreshTokens[refresh] = c.email
		w.mu.Unlock()
	}
	w.writeToken(rw, r, c.email, refresh)
}

// writeToken issues an access token for identity and answers with it.
func (w *Workspace) writeToken(rw http.ResponseWriter, r *http.Request, identity, refresh string) {
	token := wsRandomToken()
	w.mu.Lock()
	lifetime := w.tokenLifetime
	w.accessTokens[token] = wsAccessToken{identity: identity, expiry: w.store.now().Add(lifetime)}
	w.mu.Unlock()
	rw.Header().Set("Cache-Control", "no-store")
	wsWriteJSON(rw, wsTokenResponse{
		AccessToken:  token,
		TokenType:    "Bearer",
		ExpiresIn:    int64(lifetime / time.Second),
		RefreshToken: refresh,
		Scope:        r.PostForm.Get("scope"),
	})
}

// authenticate finds the identity behind a request's bearer token (an
// unexpired access token of the token route, or a personal access token),
// or answers 401.
func (w *Workspace) authenticate(rw http.ResponseWriter, r *http.Request) (string, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		wsWriteError(rw, http.StatusUnauthorized, "UNAUTHENTICATED", "Missing bearer token in the Authorization header")
		return "", false
	}
	w.mu.Lock()
	at, isAccess := w.accessTokens[token]
	email, isPAT := w.pats[token]
	w.mu.Unlock()
	switch {
	case isAccess && w.store.now().Before(at.expiry):
		return at.identity, true
	case isAccess:
		wsWriteError(rw, http.StatusUnauthorized, "UNAUTHENTICATED", "Access token has expired")
	case isPAT:
		return email, true
	default:
		wsWriteError(rw, http.StatusUnauthorized, "UNAUTHENTICATED", "Invalid access token")
	}
	return "", false
}

// wsVerifierMatches checks a PKCE S256 code verifier against its challenge.
func wsVerifierMatches(verifier, challenge string) bool {
	if verifier == "" {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// wsRandomToken returns an unguessable opaque token.
func wsRandomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
