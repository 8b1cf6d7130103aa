package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/config/credentials"
	"github.com/databricks/databricks-sdk-go/config/experimental/auth"
	"github.com/databricks/databricks-sdk-go/credentials/u2m"
	"github.com/databricks/databricks-sdk-go/credentials/u2m/cache"
	"github.com/databricks/databricks-sdk-go/httpclient"
	"golang.org/x/oauth2"
)

// u2mName is the SDK auth type of the driver's oauth-u2m login.
const u2mName = "oauth-u2m"

// u2mLogin is the SDK credentials strategy of auth=oauth-u2m. New calls find
// before the first request, with the caller's context; the SDK then calls
// Configure, which only wraps the token source that find chose.
type u2mLogin struct {
	ts auth.TokenSource
}

var _ config.CredentialsStrategy = (*u2mLogin)(nil)

// Name is the SDK auth type.
func (*u2mLogin) Name() string { return u2mName }

// Configure gives the SDK the chosen token source, cached and refreshed
// ahead of expiry as the SDK does for its own OAuth methods.
func (l *u2mLogin) Configure(_ context.Context, cfg *config.Config) (credentials.CredentialsProvider, error) {
	if l.ts == nil {
		return nil, errors.New("no oauth-u2m login was found")
	}
	ts := auth.NewCachedTokenSource(l.ts, auth.WithAsyncRefresh(!cfg.DisableAsyncTokenRefresh))
	return credentials.NewOAuthCredentialsProviderFromTokenSource(ts), nil
}

// find chooses the login, in this order: the Databricks CLI's cached login;
// a refresh token of an earlier in-process login; a new in-process browser
// login when a browser can be opened. cfg must be resolved.
func (l *u2mLogin) find(ctx context.Context, cfg *config.Config, s Settings) error {
	host := cfg.CanonicalHostName()
	cliErr := l.tryCLI(ctx, cfg)
	if cliErr == nil {
		debug(ctx, s.Logger, "oauth-u2m: using the Databricks CLI login", slog.String("workspace", host))
		return nil
	}
	in, err := newInProcessLogin(cfg, s)
	if err != nil {
		return &Error{Step: StepIdentity, Kind: ErrConfig, Err: fmt.Errorf("oauth-u2m: %w", err)}
	}
	_, cachedErr := in.Token(ctx)
	switch {
	case cachedErr == nil:
		debug(ctx, s.Logger, "oauth-u2m: using the cached in-process login", slog.String("workspace", host))
		l.ts = in
		return nil
	case errors.Is(cachedErr, errInsecureTokenCache):
		return &Error{Step: StepIdentity, Kind: ErrConfig, Err: fmt.Errorf("oauth-u2m: %w", cachedErr)}
	case errors.Is(cachedErr, cache.ErrNotFound):
		cachedErr = nil // there was no earlier login: nothing to report
	}
	browse := s.Browser
	if browse == nil && canOpenBrowser() {
		browse = openBrowser
	}
	if browse == nil {
		return &Error{Step: StepIdentity, Kind: ErrUnauthenticated, Err: noLoginError(cfg, cliErr, cachedErr)}
	}
	debug(ctx, s.Logger, "oauth-u2m: starting a browser login", slog.String("workspace", host))
	if err := in.challenge(ctx, browse); err != nil {
		return &Error{Step: StepIdentity, Kind: ErrUnauthenticated, Err: fmt.Errorf("oauth-u2m: browser login to %s: %w", host, err)}
	}
	if _, err := in.Token(ctx); err != nil {
		return &Error{Step: StepIdentity, Kind: ErrUnauthenticated, Err: fmt.Errorf("oauth-u2m: after the browser login to %s: %w", host, err)}
	}
	l.ts = in
	return nil
}

// tryCLI uses the Databricks CLI's cached login (databricks auth token) if
// the CLI is installed and logged in to the workspace.
func (l *u2mLogin) tryCLI(ctx context.Context, cfg *config.Config) error {
	cli, err := config.NewCliTokenSource(ctx, cfg)
	if err != nil {
		return err
	}
	if _, err := cli.Token(ctx); err != nil {
		return err
	}
	l.ts = cli
	return nil
}

// noLoginError tells a person how to log in, and why the logins that exist
// did not work: cliErr from the Databricks CLI (unless it is not installed),
// cachedErr from the refresh token of an earlier in-process login.
func noLoginError(cfg *config.Config, cliErr, cachedErr error) error {
	cmd := "databricks auth login --host " + cfg.CanonicalHostName()
	if cfg.Profile != "" {
		cmd += " --profile " + cfg.Profile
	}
	err := fmt.Errorf("oauth-u2m: no login for %s and no browser to log in with: run `%s`", cfg.CanonicalHostName(), cmd)
	if cliErr != nil && !errors.Is(cliErr, config.ErrCliNotFound) {
		err = fmt.Errorf("%w (the Databricks CLI: %w)", err, cliErr)
	}
	if cachedErr != nil {
		err = fmt.Errorf("%w (the cached login: %w)", err, cachedErr)
	}
	return err
}

// inProcessLogin is the SDK's PKCE browser login (u2m.PersistentAuth) with
// its tokens in a private file, so that later runs refresh instead of asking
// again. As a token source it refreshes under the caller's context.
type inProcessLogin struct {
	arg   u2m.WorkspaceOAuthArgument
	cache *fileTokenCache
	api   *httpclient.ApiClient // HTTP for the OAuth endpoints, with cfg's transport
	port  int
	scope []string
	log   *slog.Logger
}

func newInProcessLogin(cfg *config.Config, s Settings) (*inProcessLogin, error) {
	arg, err := u2m.NewProfileWorkspaceOAuthArgument(cfg.CanonicalHostName(), cfg.Profile)
	if err != nil {
		return nil, err
	}
	tc, err := newFileTokenCache(s.TokenCacheDir)
	if err != nil {
		return nil, err
	}
	api := httpclient.NewApiClient(httpclient.ClientConfig{
		Transport:          cfg.HTTPTransport,
		InsecureSkipVerify: cfg.InsecureSkipVerify,
		HTTPTimeout:        time.Duration(cfg.HTTPTimeoutSeconds) * time.Second,
		RetryTimeout:       time.Duration(cfg.RetryTimeoutSeconds) * time.Second,
		RateLimitPerSecond: cfg.RateLimitPerSecond,
	})
	return &inProcessLogin{arg: arg, cache: tc, api: api, port: cfg.OAuthCallbackPort, scope: cfg.Scopes, log: s.Logger}, nil
}

// persistentAuth is the SDK's login manager bound to ctx. browse may be nil
// when no login page is to be opened.
func (l *inProcessLogin) persistentAuth(ctx context.Context, browse func(string) error) (*u2m.PersistentAuth, error) {
	opts := []u2m.PersistentAuthOption{
		u2m.WithOAuthArgument(l.arg),
		u2m.WithTokenCache(l.cache),
		u2m.WithHttpClient(&http.Client{Transport: l.api}),
		u2m.WithOAuthEndpointSupplier(&u2m.BasicOAuthEndpointSupplier{Client: l.api}),
	}
	if browse != nil {
		opts = append(opts, u2m.WithBrowser(browse))
	}
	if l.port != 0 {
		opts = append(opts, u2m.WithPort(l.port))
	}
	if len(l.scope) > 0 {
		opts = append(opts, u2m.WithScopes(l.scope))
	}
	return u2m.NewPersistentAuth(withSDKLogger(ctx, l.log), opts...)
}

// Token returns the cached access token, refreshed with the cached refresh
// token when it is close to expiry.
func (l *inProcessLogin) Token(ctx context.Context) (*oauth2.Token, error) {
	pa, err := l.persistentAuth(ctx, nil)
	if err != nil {
		return nil, err
	}
	return pa.Token()
}

// challenge runs the browser login and stores its tokens. It ends when the
// browser comes back, when ctx ends, or at once when browse fails (the SDK
// would print the URL instead).
func (l *inProcessLogin) challenge(ctx context.Context, browse func(string) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	open := func(url string) error {
		if err := browse(url); err != nil {
			cancel(fmt.Errorf("cannot open the login page: %w", err))
		}
		return nil
	}
	pa, err := l.persistentAuth(ctx, open)
	if err != nil {
		return err
	}
	if err := pa.Challenge(); err != nil {
		if cause := context.Cause(ctx); cause != nil {
			return cause
		}
		return err
	}
	return nil
}
