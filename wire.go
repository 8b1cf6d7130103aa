package lakebase

import (
	"context"
	"os/user"

	"github.com/lakebase-go/lakebase/internal/controlplane"
	"github.com/lakebase-go/lakebase/internal/credcache"
	"github.com/lakebase-go/lakebase/internal/lazy"
	"github.com/lakebase-go/lakebase/internal/telemetry"
)

// effectiveAuth decides the auth mode when the Config leaves it automatic,
// and checks, before anything is looked up or minted, that the mode has what
// it needs.
func (c *Config) effectiveAuth() (AuthMode, error) {
	ownSDK := c.SDKConfig != nil || c.WorkspaceClient != nil
	switch {
	case c.Auth == AuthPassword && c.TokenSource != nil:
		return "", invalidKey("auth", "password login cannot use a TokenSource")
	case c.Auth == AuthOAuthM2M && !ownSDK && (c.ClientID == "" || c.ClientSecret == ""):
		return "", invalidKey("client_id", "auth=oauth-m2m needs client_id and client_secret (or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET)")
	case c.Auth == AuthPAT && !ownSDK && c.AccessToken == "":
		return "", invalidKey("token", "auth=pat needs a personal access token (token or DATABRICKS_TOKEN)")
	case c.Auth != AuthAutomatic:
		return c.Auth, nil
	case c.Password != "" && c.TokenSource == nil:
		return AuthPassword, nil
	}
	return AuthAutomatic, nil
}

// wire builds the connector's target, identity and credential source for its
// auth mode. Nothing is looked up here: every lookup is lazy.
func (c *Connector) wire() error {
	cfg := c.cfg
	usesWorkspace := cfg.Instance != "" || cfg.Endpoint != "" || (c.mode != AuthPassword && cfg.TokenSource == nil)
	if !usesWorkspace {
		host := cfg.Host
		if host == "" {
			host = "localhost"
		}
		c.target = fixedHost{host: host, port: uint16(cfg.Port)}
	} else {
		if cfg.Instance == "" && cfg.Endpoint == "" && cfg.Host == "" {
			return invalidKey("instance", "no target: name an instance, an endpoint or a host (or set LAKEBASE_INSTANCE, LAKEBASE_ENDPOINT or PGHOST)")
		}
		settings := cfg.controlSettings(c.mode)
		settings.Failures = &c.failures
		c.client = newWorkspaceClient(c.life, settings)
		c.target = newLookedUp(cfg, c.client, c.life)
		c.identityName = workspaceUser(c.client, c.life)
	}

	switch {
	case c.mode == AuthPassword || cfg.User != "":
		name := cfg.User
		if name == "" {
			name = osUserName()
		}
		c.identity = func(context.Context) (string, error) { return name, nil }
	case c.client != nil:
		c.identity = c.identityName.Get // one lookup serves both
	default:
		return invalidKey("user", "required with a TokenSource when no workspace is named")
	}

	opts := credcache.Options{SafetyMargin: cfg.SafetyMargin, RefreshWindow: cfg.RefreshWindow, Logger: cfg.Logger, Now: cfg.now,
		Observer: c.tel.CredentialObserver()}
	switch {
	case c.mode == AuthPassword:
		c.creds = staticPassword(cfg.Password)
	case cfg.TokenSource != nil:
		c.creds = cachedCredentials{credcache.New(tokenSourceFetcher(cfg.TokenSource), opts)}
	default:
		c.creds = cachedCredentials{credcache.New(c.target.(*lookedUp).mintFetcher(cfg.CredentialTTL), opts)}
	}
	return nil
}

// osUserName is libpq's default role: the operating system user, or "" when
// it cannot be found.
func osUserName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// controlSettings are the workspace login settings of a Config.
func (c *Config) controlSettings(mode AuthMode) controlplane.Settings {
	s := controlplane.Settings{
		Workspace:     c.Workspace,
		Profile:       c.Profile,
		Auth:          controlplane.AuthMode(mode),
		ClientID:      c.ClientID,
		ClientSecret:  c.ClientSecret,
		Token:         c.AccessToken,
		SDKConfig:     c.SDKConfig,
		Client:        c.WorkspaceClient,
		Browser:       c.Browser,
		TokenCacheDir: c.TokenCacheDir,
		Logger:        c.Logger,
	}
	if mode == AuthAutomatic && c.ClientID != "" && c.ClientSecret != "" {
		// The service principal is known: say so, so that the SDK does not
		// probe every login method in turn.
		s.Auth = controlplane.AuthM2M
	}
	return s
}

// newWorkspaceClient returns the lazily built workspace client of a
// connector: the first lookup, identity or mint logs in.
func newWorkspaceClient(life *lazy.Lifetime, s controlplane.Settings) *lazy.Value[*controlplane.Client] {
	return &lazy.Value[*controlplane.Client]{
		Life: life,
		Kind: telemetry.LookupWorkspace,
		Load: func(ctx context.Context) (*controlplane.Client, error) { return controlplane.New(ctx, s) },
	}
}

// workspaceUser is the Postgres user of the workspace identity: a service
// principal's client id, or SCIM Me's userName, asked once and cached.
func workspaceUser(client *lazy.Value[*controlplane.Client], life *lazy.Lifetime) *lazy.Value[string] {
	return &lazy.Value[string]{Life: life, Kind: telemetry.LookupIdentity, Load: func(ctx context.Context) (string, error) {
		c, err := client.Get(ctx)
		if err != nil {
			return "", err
		}
		return c.UserName(ctx)
	}}
}
