package controlplane

import (
	"context"
	"log/slog"

	"github.com/databricks/databricks-sdk-go"
)

// Client asks one workspace about Lakebase instances, endpoints and the
// calling identity. It is safe for concurrent use; it caches nothing and
// limits nothing beyond the SDK's own rate limit (15 requests a second),
// which is why its caller should keep one lookup of a kind in flight.
type Client struct {
	w        *databricks.WorkspaceClient
	mode     AuthMode
	clientID string       // the service principal's id, for AuthM2M
	log      *slog.Logger // may be nil
}

// New returns a Client for the workspace and login that s describe.
//
// With s.Client it only records it. Otherwise it builds the SDK
// configuration (without ever changing s.SDKConfig), checks that the login
// can work (a workspace; client_id and client_secret for oauth-m2m; a token
// for pat), then asks the workspace for its metadata (one GET, under ctx).
// Its HTTP transport makes a mint that the workspace throttles fail at once
// (see ThrottledError) rather than be retried by the SDK.
// For oauth-u2m it also finds the login, which may open a browser and wait
// for the person under ctx. Failures are *Error with step resolve (kind
// ErrConfig) or identity.
func New(ctx context.Context, s Settings) (*Client, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	c := &Client{mode: s.Auth, clientID: s.ClientID, log: s.Logger}
	if s.Client != nil {
		c.w = s.Client
		if c.clientID == "" && s.Client.Config != nil {
			c.clientID = s.Client.Config.ClientID
		}
		return c, nil
	}
	ctx = withSDKLogger(ctx, s.Logger)
	cfg := newSDKConfig(s)
	if err := loadConfig(cfg); err != nil {
		return nil, &Error{Step: StepResolve, Kind: ErrConfig, Err: err}
	}
	if err := checkLoaded(s.Auth, cfg); err != nil {
		return nil, err
	}
	cfg.HTTPTransport = withThrottleTransport(cfg.HTTPTransport, cfg.InsecureSkipVerify)
	cfg.HostMetadataResolver = quietHostMetadata(ctx, cfg, s.Logger)
	var login *u2mLogin
	if s.Auth == AuthU2M {
		login = &u2mLogin{}
		cfg.Credentials = login
		cfg.AuthType = login.Name()
	}
	if err := cfg.EnsureResolved(); err != nil {
		return nil, &Error{Step: StepResolve, Kind: ErrConfig, Err: err}
	}
	if login != nil {
		if err := login.find(ctx, cfg, s); err != nil {
			return nil, err
		}
	}
	w, err := databricks.NewWorkspaceClient((*databricks.Config)(cfg))
	if err != nil {
		return nil, &Error{Step: StepResolve, Kind: ErrConfig, Err: err}
	}
	c.w = w
	c.clientID = cfg.ClientID
	return c, nil
}

// ctx prepares a call's context: the SDK logs to the user's logger, or nowhere.
func (c *Client) ctx(ctx context.Context) context.Context {
	return withSDKLogger(ctx, c.log)
}
