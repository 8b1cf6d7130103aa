package lakebase

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lakebase-go/lakebase/internal/controlplane"
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
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := cfg.clone()
	if err := c.applyEnvironment(os.Getenv); err != nil {
		return nil, err
	}
	c.applyDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	mode, err := c.effectiveAuth()
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

// Connect opens a new connection: it resolves the host, learns the identity,
// takes a valid credential from the cache and logs in through lib/pq. It
// honours ctx throughout and, when ctx ends, returns ctx.Err() itself.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	var conn driver.Conn
	err := c.open(ctx, func(ctx context.Context, host hostPort, user string, cred Token, dialed func(error)) (err error) {
		conn, err = c.login(ctx, pqsession.Login{Host: host.host, Port: host.port, User: user, Password: cred.Value, Dialed: dialed})
		return err
	})
	if err != nil {
		return nil, err
	}
	return conn, nil
}

// contextEnded returns ctx's error, also in the moment after its deadline
// passed and before ctx itself noticed (a dial that timed out at the
// deadline sees that moment).
func contextEnded(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// String describes the connector by its Config, secrets redacted: without
// it, %v and %+v of a Connector would print a native password.
func (c *Connector) String() string { return "lakebase.Connector(" + c.cfg.String() + ")" }

// GoString is String, for %#v.
func (c *Connector) GoString() string { return c.String() }

// Driver returns the lakebase Driver.
func (c *Connector) Driver() driver.Driver { return Driver{} }

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

// pauseNotReady waits before trying a target that is not ready again, and
// says so in the log, since such waits can make Connect slow for minutes.
// It reports false when the connect budget or ctx does not allow the pause.
func (c *Connector) pauseNotReady(ctx context.Context, wait *connectWait, err error) bool {
	if !wait.pause(ctx) {
		return false
	}
	c.tel.Retrying(ctx, "lakebase.target.not_ready", err)
	c.logger.LogAttrs(ctx, slog.LevelInfo, "lakebase: target not ready; trying again",
		slog.String("target", c.target.describe()), slog.String("reason", err.Error()))
	return true
}

// logContextEnded says at which step (found in err) a Connect was when its
// context ended (with ended), since the caller gets ctx.Err() alone: an
// unreachable workspace or server shows only as a deadline otherwise. A
// deadline is a warning; a cancellation, which the caller chose, is
// information.
func (c *Connector) logContextEnded(ctx context.Context, ended, err error, waited time.Duration) {
	level := slog.LevelWarn
	if ended == context.Canceled {
		level = slog.LevelInfo
	}
	attrs := []slog.Attr{slog.String("target", c.target.describe()), slog.Duration("waited", waited)}
	var ce *ConnectError
	if errors.As(err, &ce) {
		attrs = append(attrs, slog.String("step", ce.Step))
		if ce.User != "" {
			attrs = append(attrs, slog.String("user", ce.User))
		}
	}
	if last := c.failures.Since(time.Now().Add(-waited - failureMemory)); last != "" {
		attrs = append(attrs, slog.String("workspace_failure", last))
	}
	c.logger.LogAttrs(context.WithoutCancel(ctx), level, "lakebase: connect ended by its context", attrs...)
}

// stepError wraps err as the ConnectError of step.
func (c *Connector) stepError(step, user string, err error) error {
	var ce *ConnectError
	if errors.As(err, &ce) {
		return err
	}
	return &ConnectError{Step: step, Target: c.target.describe(), User: user, Err: err}
}

// basePQConfig builds the lib/pq configuration that every connection of a
// connector starts from. Host, port, user and password are set per connection
// (they come from lookups and credentials), so they are left as placeholders
// here. lib/pq reads its own PG* environment variables for the keys the
// Config leaves open, as libpq does.
func basePQConfig(c *Config) (pq.Config, error) {
	var b strings.Builder
	write := func(key, value string) {
		b.WriteString(key)
		b.WriteByte('=')
		b.WriteString(quoteValue(value))
		b.WriteByte(' ')
	}
	// The placeholders keep lib/pq from looking up the operating system
	// user, which fails in some containers.
	write("host", "localhost")
	write("user", "lakebase")
	write("dbname", c.DBName)
	write("sslmode", c.SSLMode)
	for k, v := range c.Params {
		write(k, v)
	}
	if _, set := c.Params["binary_parameters"]; c.Pooled && !set {
		// Parse, bind and execute in one message, which a pooler in
		// transaction mode keeps on one server connection.
		write("binary_parameters", "yes")
	}
	pc, err := pq.NewConfig(b.String())
	if err != nil {
		// lib/pq's messages name the key and never a password: the base
		// configuration holds none.
		return pq.Config{}, fmt.Errorf("%w: lib/pq: %v", ErrInvalidDSN, strings.TrimPrefix(err.Error(), "pq: "))
	}
	return pc, nil
}
