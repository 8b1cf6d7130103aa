package lakebase

import (
	"context"

	"github.com/lakebase-go/lakebase/internal/controlplane"
)

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
func newWorkspaceClient(life *lifetime, s controlplane.Settings) *lazy[*controlplane.Client] {
	return &lazy[*controlplane.Client]{
		life: life,
		kind: lookupWorkspace,
		load: func(ctx context.Context) (*controlplane.Client, error) { return controlplane.New(ctx, s) },
	}
}
