package lakebase

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"github.com/lakebase-go/lakebase/internal/controlplane"
	"github.com/lakebase-go/lakebase/internal/credcache"
	"github.com/lakebase-go/lakebase/internal/lazy"
	"github.com/lakebase-go/lakebase/internal/pqsession"
	"github.com/lakebase-go/lakebase/internal/telemetry"
	"github.com/lib/pq"
)

// ErrConnectorClosed is returned by Connect after Close.
var ErrConnectorClosed = lazy.ErrClosed

// Connector opens connections for one Config. It owns the caches: the
// looked-up host, the identity and the credential, shared by every
// connection of the sql.DB made with sql.OpenDB(connector). It is safe for
// concurrent use and immutable after NewConnector. sql.DB.Close calls its
// Close.
type Connector struct {
	cfg    *Config // the caller's Config with the environment and defaults applied
	mode   AuthMode
	base   pq.Config // lib/pq's configuration of every connection
	opener *pqsession.Opener
	budget time.Duration // of a Connect whose context has no deadline
	logger *slog.Logger
	life   *lazy.Lifetime
	tel    *telemetry.Telemetry // nil when off

	client   *lazy.Value[*controlplane.Client] // nil when no workspace is involved
	target   targetResolver
	identity func(ctx context.Context) (string, error)
	creds    credentialSource

	identityName *lazy.Value[string]   // the workspace identity's user name, whatever role logs in; nil without a workspace
	failures     controlplane.Failures // the workspace requests that failed, the last one
	loginRetries atomic.Uint64
	closed       atomic.Bool
	handoff      handoff // the logins that their Connects left, and their sessions (handoff.go)
}

var (
	_ driver.Connector = (*Connector)(nil)
	_ io.Closer        = (*Connector)(nil)
)

// NewConnector checks cfg, fills what it leaves open from the environment
// and the defaults, and returns a Connector. cfg is copied; later changes to
// it have no effect. A nil cfg is the empty Config, which inside a Databricks
// App is enough. Nothing is looked up or minted until the first Connect.
func NewConnector(cfg *Config) (*Connector, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	c, mode, err := cfg.resolve(os.Getenv)
	if err != nil {
		return nil, err
	}
	base, err := basePQConfig(c)
	if err != nil {
		return nil, err
	}
	tel, err := newTelemetry(c)
	if err != nil {
		return nil, err
	}
	conn := &Connector{cfg: c, mode: mode, base: base, budget: connectBudget(base), logger: c.Logger, life: lazy.NewLifetime(), tel: tel}
	conn.life.Tel = tel
	if conn.logger == nil {
		conn.logger = slog.New(slog.DiscardHandler)
	}
	if err := conn.wire(); err != nil {
		return nil, err
	}
	if conn.target.looksUp() {
		base.Hostaddr = netip.Addr{} // PGHOSTADDR never redirects a looked-up host
	}
	if conn.opener, err = pqsession.NewOpener(base, c.retirement()); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("%w: %w", ErrInvalidDSN, err)
	}
	if err := conn.observe(); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return conn, nil
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
		c.creds = cachedCredentials{credcache.New(c.target.(*lookedUp).mintFetcher(cfg.CredentialTTL, cfg.requestedClaims()), opts)}
	}
	return nil
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

// observe starts reporting the connector's metrics read from its Stats.
func (c *Connector) observe() error {
	err := c.tel.Observe(func() telemetry.Observed {
		s := c.Stats()
		return telemetry.Observed{CredentialWaits: s.CredentialWaits, LoginRetries: s.LoginRetries, CredentialExpiry: s.CredentialExpiry}
	})
	if err != nil {
		return fmt.Errorf("%w: telemetry: %w", ErrInvalidDSN, err)
	}
	return nil
}

// Close releases the connector's caches and stops any background refresh.
// It ends whatever runs for the connector, in the driver and in the
// Databricks SDK (lookups, mints and workspace logins in flight, token
// refreshes, the workspace client's idle connections), and returns once it
// has ended. Connections already open stay usable; new ones fail with
// ErrConnectorClosed. Close is idempotent.
func (c *Connector) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.creds.close()
	c.life.End()
	c.handoff.close()
	if c.client != nil {
		if client, ok := c.client.Loaded(); ok {
			client.Close()
		}
	}
	c.tel.Close()
	return nil
}

// String describes the connector by its Config, secrets redacted: without
// it, %v and %+v of a Connector would print a native password.
func (c *Connector) String() string { return "lakebase.Connector(" + c.cfg.String() + ")" }

// GoString is String, for %#v.
func (c *Connector) GoString() string { return c.String() }

// Driver returns the lakebase Driver.
func (c *Connector) Driver() driver.Driver { return Driver{} }

// Stats describes a Connector's credential cache.
type Stats struct {
	// CredentialsMinted counts credentials obtained (minted, or taken from
	// the TokenSource).
	CredentialsMinted uint64
	// MintFailures counts failed attempts to obtain one.
	MintFailures uint64
	// CredentialWaits counts connections (and Credential calls) that found
	// no usable credential and waited for one to be obtained: the first,
	// and any after the cached credential ran out or was rejected. While
	// early refresh works, rotation adds nothing to it. With a TokenSource
	// whose tokens carry no expiry, every connection waits for it.
	CredentialWaits uint64
	// LoginRetries counts logins retried with a new credential after the
	// server refused a cached one.
	LoginRetries uint64
	// CredentialExpiry is when the current credential expires; zero when
	// there is none (or the mode uses a native password).
	CredentialExpiry time.Time
	// Refreshing is true while a credential is being obtained.
	Refreshing bool
}

// Stats returns the connector's counters. It is cheap and safe to call at any
// time, for metrics or health checks.
func (c *Connector) Stats() Stats {
	s := Stats{LoginRetries: c.loginRetries.Load()}
	if cc, ok := c.creds.(cachedCredentials); ok {
		cs := cc.cache.Stats()
		s.CredentialsMinted, s.MintFailures, s.CredentialWaits = cs.Minted, cs.MintFailures, cs.Waits
		s.CredentialExpiry, s.Refreshing = cs.Expiry, cs.Refreshing
	}
	return s
}

// Credential returns a credential that is valid for a new connection, from
// the connector's cache, minting one if needed: for programs that log in
// where the connector cannot see the outcome (psql, a credential printed
// for another tool). A client that logs in within this process uses Open,
// which also retries a refused credential and waits for a waking target. In
// native password mode it is the password, without expiry. Errors are
// *ConnectError like Connect's; when ctx ends, ctx.Err() itself, or a
// *ConnectError wrapping it that says what the workspace last failed with.
func (c *Connector) Credential(ctx context.Context) (Token, error) {
	if c.closed.Load() {
		return Token{}, ErrConnectorClosed
	}
	user, err := c.User(ctx)
	if err != nil {
		return Token{}, err
	}
	start := time.Now()
	cred, err := c.creds.credential(ctx)
	if err != nil {
		if cerr := contextEnded(ctx); cerr != nil {
			return Token{}, c.endedError(cerr, "mint", user, start)
		}
		return Token{}, c.stepError("mint", user, err)
	}
	return cred, nil
}

// Host returns the host and port that new connections dial: the looked-up
// host of the instance or endpoint, or the Config's host.
func (c *Connector) Host(ctx context.Context) (host string, port int, err error) {
	start := time.Now()
	hp, err := c.target.resolve(ctx)
	if err != nil {
		if cerr := contextEnded(ctx); cerr != nil {
			return "", 0, c.endedError(cerr, "resolve", "", start)
		}
		return "", 0, c.stepError("resolve", "", err)
	}
	return hp.host, int(hp.port), nil
}

// User returns the Postgres role that new connections log in as: the
// Config's user, or the identity's user name.
func (c *Connector) User(ctx context.Context) (string, error) {
	start := time.Now()
	user, err := c.identity(ctx)
	if err != nil {
		if cerr := contextEnded(ctx); cerr != nil {
			return "", c.endedError(cerr, "identity", "", start)
		}
		return "", c.stepError("identity", "", err)
	}
	return user, nil
}

// DBName returns the database that new connections open.
func (c *Connector) DBName() string { return c.cfg.DBName }

// Pooled reports whether new connections go to a pooled host (pooled=true),
// a PgBouncer in transaction mode: a client that keeps state on its session
// between transactions, such as named prepared statements, must not rely on
// it there.
func (c *Connector) Pooled() bool { return c.cfg.Pooled }

// SSLMode returns the sslmode of new connections (require by default), for
// clients of Open that check their own TLS settings against it.
func (c *Connector) SSLMode() string { return c.cfg.SSLMode }
