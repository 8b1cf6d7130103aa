package lakebasetest

import "fmt"

// ForwardedToken issues an OAuth access token of the registered user email,
// such as the Databricks Apps proxy forwards in X-Forwarded-Access-Token for
// an App with user authorization: every authenticated route (SCIM Me, the
// lookups, both credential APIs) takes it as that user's, until it expires
// after the workspace's OAuth token lifetime (SetOAuthTokenLifetime) or is
// revoked (RevokeToken). Each call issues a new token.
func (w *Workspace) ForwardedToken(email string) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.users[email]; !ok {
		return "", fmt.Errorf("lakebasetest: forwarded token: no user %q", email)
	}
	token := wsRandomToken()
	w.accessTokens[token] = wsAccessToken{identity: email, expiry: w.store.now().Add(w.tokenLifetime)}
	return token, nil
}

// RevokeToken makes an OAuth access token (one of ForwardedToken, or of the
// token route) fail from now on with 401, as a revoked token does.
// Credentials minted with it stay valid until they expire, as on Lakebase.
func (w *Workspace) RevokeToken(token string) {
	w.mu.Lock()
	delete(w.accessTokens, token)
	w.mu.Unlock()
}
