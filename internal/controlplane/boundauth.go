package controlplane

import (
	"context"
	"fmt"
	"net/http"

	"github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/config/credentials"
	"golang.org/x/oauth2"
)

// boundStrategy is the credentials strategy of the SDK configurations this
// package builds: the SDK's own (or the user's), under the Client's
// lifetime. The SDK configures its login (for oauth-m2m, OIDC discovery; in
// automatic mode, trying each method) with a context that nothing ends, and
// some methods keep that context to fetch tokens later; bound, those end
// when the Client closes. The login's token requests are bound too (see
// boundOAuth).
type boundStrategy struct {
	inner config.CredentialsStrategy
	life  *clientLife
}

var _ config.CredentialsStrategy = boundStrategy{}

// bindCredentials puts cfg's credentials strategy, or the SDK's default one,
// under life.
func bindCredentials(cfg *config.Config, life *clientLife) {
	inner := cfg.Credentials
	if inner == nil {
		inner = config.DefaultCredentialStrategyProvider()
	}
	cfg.Credentials = boundStrategy{inner: inner, life: life}
}

// Name is the inner strategy's, which the SDK records as the auth type.
func (s boundStrategy) Name() string { return s.inner.Name() }

// Configure configures the inner strategy under the lifetime.
func (s boundStrategy) Configure(ctx context.Context, cfg *config.Config) (credentials.CredentialsProvider, error) {
	p, err := s.inner.Configure(s.life.bind(ctx), cfg)
	if err != nil || p == nil {
		return p, err
	}
	if oauth, ok := p.(credentials.OAuthCredentialsProvider); ok {
		return boundOAuth{inner: oauth, life: s.life}, nil
	}
	return p, nil
}

// boundOAuth is an OAuth login whose tokens are fetched under the context
// of the call that needs them, bound to the Client's lifetime. The SDK sets
// a request's Authorization header with a token it gets under a context of
// its own, so that a token refresh there (the cached token expired just
// before the request) would retry a throttled token endpoint for a minute
// whatever the caller's deadline; here the token is got under the
// request's context first, and the SDK then finds it cached.
type boundOAuth struct {
	inner credentials.OAuthCredentialsProvider
	life  *clientLife
}

var _ credentials.OAuthCredentialsProvider = boundOAuth{}

// SetHeaders sets the request's credentials, with the token got under the
// request's context.
func (p boundOAuth) SetHeaders(r *http.Request) error {
	if _, err := p.Token(r.Context()); err != nil {
		return fmt.Errorf("getting a workspace token: %w", err)
	}
	return p.inner.SetHeaders(r)
}

// Token returns the login's token, fetched if need be under ctx bound to
// the lifetime.
func (p boundOAuth) Token(ctx context.Context) (*oauth2.Token, error) {
	return p.inner.Token(p.life.bind(ctx))
}
