package controlplane

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/client"
	"github.com/databricks/databricks-sdk-go/config"
)

// Client asks one workspace about Lakebase instances, endpoints and the
// calling identity. It is safe for concurrent use; it caches nothing and
// limits nothing beyond the SDK's own rate limit (15 requests a second),
// which is why its caller should keep one lookup of a kind in flight. Close
// ends whatever it and the SDK run for it.
type Client struct {
	w        *databricks.WorkspaceClient
	api      *client.DatabricksClient // for calls whose answer the SDK's types decode too strictly
	mode     AuthMode
	clientID string       // the service principal's id, for AuthM2M
	log      *slog.Logger // may be nil
	host     string       // the workspace URL, for errors
	life     *clientLife
	idle     *http.Transport // the transport of the Client's own, if it has one

	loggedIn     chan struct{} // closed once a call has its login; see LoggedIn
	loggedInOnce sync.Once
}

// LoggedIn is closed once a call of the Client has got past the workspace
// login: its OAuth token was fetched, or it needs none (a personal access
// token). Calls started after that do not log in again, so several may
// start at once without each asking the token endpoint, which a login that
// fails would otherwise cost once per call.
func (c *Client) LoggedIn() <-chan struct{} { return c.loggedIn }

// markLoggedIn closes LoggedIn's channel.
func (c *Client) markLoggedIn() { c.loggedInOnce.Do(func() { close(c.loggedIn) }) }

// New returns a Client for the workspace and login that s describe.
//
// With s.Client it only records it. Otherwise it builds the SDK
// configuration (without ever changing s.SDKConfig), checks that the login
// can work (a workspace; client_id and client_secret for oauth-m2m; a token
// for pat), then asks the workspace for its metadata (one GET). For
// oauth-u2m it finds the login, which may open a browser and wait for the
// person. Then the SDK makes its client, logging in as it does (oauth-m2m:
// OIDC discovery; automatic mode: trying each method). All of it ends when
// ctx ends: New then stops what it started before it returns. Failures are
// *Error with step resolve (kind ErrConfig) or identity. Its HTTP transport
// makes a mint or a login that the workspace throttles fail at once (see
// ThrottledError) rather than be retried by the SDK.
func New(ctx context.Context, s Settings) (_ *Client, err error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	c := &Client{mode: s.Auth, clientID: s.ClientID, log: s.Logger, life: newClientLife(), loggedIn: make(chan struct{})}
	if s.Client != nil {
		c.w = s.Client
		if s.Client.Config != nil {
			c.host = s.Client.Config.Host
		}
		if c.clientID == "" && s.Client.Config != nil {
			c.clientID = s.Client.Config.ClientID
		}
		return c, c.newAPI()
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	ctx = withSDKLogger(ctx, s.Logger)
	cfg := newSDKConfig(s)
	if err := loadConfig(cfg); err != nil {
		return nil, &Error{Step: StepResolve, Kind: ErrConfig, Err: err}
	}
	if err := checkLoaded(s.Auth, cfg); err != nil {
		return nil, err
	}
	c.host = cfg.CanonicalHostName()
	unreachable := newFirstUnreachable(c.host)
	base, owned := newClientTransport(cfg.HTTPTransport, cfg.InsecureSkipVerify)
	c.idle = owned
	cfg.HTTPTransport = throttleTransport{base: base, now: time.Now, failures: s.Failures, unreachable: unreachable, life: c.life}
	cfg.HostMetadataResolver = quietHostMetadata(ctx, cfg, s.Logger, unreachable)
	var login *u2mLogin
	if s.Auth == AuthU2M {
		login = &u2mLogin{}
		cfg.Credentials = login
		cfg.AuthType = login.Name()
	}
	bindCredentials(cfg, c.life)
	if err := cfg.EnsureResolved(); err != nil {
		return nil, &Error{Step: StepResolve, Kind: ErrConfig, Err: err}
	}
	if err := unreachable.failure(); err != nil {
		return nil, err // the metadata's request: the workspace cannot be reached
	}
	if login != nil {
		if err := login.find(ctx, cfg, s); err != nil {
			return nil, err
		}
	}
	w, err := c.newWorkspaceClient(ctx, cfg, unreachable)
	if err != nil {
		return nil, err
	}
	c.w = w
	c.clientID = cfg.ClientID
	return c, c.newAPI()
}

// Close ends the Client: the SDK's logins and token refreshes for it, its
// calls in flight, and the goroutines it started; it waits for them, then
// closes the idle connections of its own transport. Calls after Close fail.
// A client of the user's own (Settings.Client) is left as it is. Close is
// idempotent.
func (c *Client) Close() {
	c.life.end()
	if c.idle != nil {
		c.idle.CloseIdleConnections()
	}
}

// newAPI makes the plain API client that shares the workspace client's
// configuration (its login, transport and retries).
func (c *Client) newAPI() error {
	api, err := client.New(c.w.Config)
	if err != nil {
		return &Error{Step: StepResolve, Kind: ErrConfig, Err: err}
	}
	c.api = api
	return nil
}

// newWorkspaceClient makes the SDK's client for cfg. The SDK logs in while
// it does (for oauth-m2m, OIDC discovery; in automatic mode, trying each
// method), with a context of its own that the Client's lifetime ends (see
// boundStrategy); so it runs aside, and New stops waiting when ctx ends or
// one of its requests fails in a way retrying cannot cure, and then ends
// the Client, which ends the login.
func (c *Client) newWorkspaceClient(ctx context.Context, cfg *config.Config, unreachable *firstUnreachable) (*databricks.WorkspaceClient, error) {
	host := cfg.Host // read before the SDK starts changing cfg
	type result struct {
		w   *databricks.WorkspaceClient
		err error
	}
	done := make(chan result, 1)
	c.life.aside(func() {
		w, err := databricks.NewWorkspaceClient((*databricks.Config)(cfg))
		done <- result{w, err}
	})
	select {
	case r := <-done:
		if r.err != nil {
			return nil, &Error{Step: StepResolve, Kind: ErrConfig, Err: r.err}
		}
		return r.w, nil
	case <-unreachable.seen.Done():
		return nil, unreachable.failure()
	case <-ctx.Done():
		return nil, &Error{Step: StepIdentity, Err: fmt.Errorf("logging in to %s: %w", host, ctx.Err())}
	}
}

// prepare readies a call: the call ends when ctx ends or the Client
// closes; the SDK logs to the user's logger, or nowhere; and the OAuth
// token the request needs is fetched under ctx first.
//
// The SDK logs in (for oauth-m2m, OIDC discovery) with a context of its
// own, bound to the Client's lifetime but to no deadline, so a workspace
// that hangs would hold the call past ctx. Here the login runs aside and
// the caller stops waiting when ctx ends (the SDK's own timeouts, or Close,
// end the login later), and the token is fetched under ctx, after which
// the request finds it cached. A token endpoint that throttles (429) fails
// the call at once with a *ThrottledError, however long it asks to wait:
// the SDK would otherwise retry it for as long as ctx allows and report
// only that time ran out.
//
// With oauth-m2m and oauth-u2m a failure to get the token is the call's
// failure. In automatic mode the login may not be OAuth at all (a personal
// access token), so only the end of ctx and throttling are; anything else
// is left to the request, which reports it.
func (c *Client) prepare(ctx context.Context) (context.Context, error) {
	ctx = c.life.bind(withSDKLogger(ctx, c.log))
	if c.life.closed() {
		return ctx, errClientClosed
	}
	if c.mode == AuthPAT {
		c.markLoggedIn()
		return ctx, nil
	}
	call, throttled := reportThrottling(c.life.bind(ctx))
	fetched := make(chan error, 1)
	if !c.life.aside(func() {
		_, err := c.w.Config.GetTokenSource().Token(call)
		fetched <- err
	}) {
		throttled()
		return ctx, errClientClosed
	}
	var err error
	select {
	case err = <-fetched:
	case <-ctx.Done():
	}
	if te := throttled(); te != nil {
		return ctx, fmt.Errorf("logging in to %s: %w", c.host, te)
	}
	switch {
	case c.life.closed():
		return ctx, errClientClosed
	case ctx.Err() != nil:
		return ctx, ctx.Err()
	case err == nil:
		c.markLoggedIn()
		return ctx, nil
	case c.mode == AuthM2M || c.mode == AuthU2M:
		return ctx, err
	}
	return ctx, nil
}
