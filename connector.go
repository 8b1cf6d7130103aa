package lakebase

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/lakebase-go/lakebase/internal/controlplane"
	"github.com/lib/pq"
)

// ErrConnectorClosed is returned by Connect after Close.
var ErrConnectorClosed = errors.New("lakebase: connector is closed")

// Connector opens connections for one Config. It owns the caches: the
// looked-up host, the identity and the credential, shared by every
// connection of the sql.DB made with sql.OpenDB(connector). It is safe for
// concurrent use and immutable after NewConnector. sql.DB.Close calls its
// Close.
type Connector struct {
	cfg    *Config // the caller's Config with the environment and defaults applied
	mode   AuthMode
	base   pq.Config
	tls    *sessionTLS
	logger *slog.Logger
	life   *lifetime

	client   *lazy[*controlplane.Client] // nil when no workspace is involved
	target   targetResolver
	identity func(ctx context.Context) (string, error)
	creds    credentialSource

	identityName *lazy[string]         // the workspace identity's user name, whatever role logs in; nil without a workspace
	failures     controlplane.Failures // the workspace requests that failed, the last one
	loginRetries atomic.Uint64
	closed       atomic.Bool
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
	st, err := newSessionTLS(base)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidDSN, err)
	}
	conn := &Connector{cfg: c, mode: mode, base: base, tls: st, logger: c.Logger, life: newLifetime()}
	if conn.logger == nil {
		conn.logger = slog.New(slog.DiscardHandler)
	}
	if err := conn.wire(); err != nil {
		return nil, err
	}
	return conn, nil
}

// Connect opens a new connection: it resolves the host, learns the identity,
// takes a valid credential from the cache and logs in through lib/pq. It
// honours ctx throughout and, when ctx ends, returns ctx.Err() itself.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.closed.Load() {
		return nil, ErrConnectorClosed
	}
	// Close ends the connects in flight too: their lookups, their waits for
	// a credential or a starting target, and their logins.
	start := time.Now()
	tied, untie := c.life.tie(ctx)
	conn, err := c.connect(tied)
	untie()
	if err != nil {
		if cerr := contextEnded(ctx); cerr != nil {
			c.logContextEnded(ctx, cerr, err, time.Since(start))
			return nil, cerr
		}
		if c.closed.Load() {
			return nil, ErrConnectorClosed
		}
	}
	return conn, err
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
// Connections already open stay usable; new ones fail with
// ErrConnectorClosed. Close is idempotent.
func (c *Connector) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.creds.close()
	c.life.end()
	return nil
}

// connect runs the steps of one connection. It retries once after a login
// rejected for authentication, when the cache drops the credential (it keeps
// it when new credentials are refused too: see credcache's Invalidate), once
// after a dial
// failure to a looked-up host (which may have moved), and, within the connect
// budget, while the target is starting or waking.
func (c *Connector) connect(ctx context.Context) (driver.Conn, error) {
	retriedLogin, retriedDial := false, false
	wait := c.newWait(ctx)
	for {
		host, err := c.target.resolve(ctx)
		if err != nil {
			if errors.Is(err, ErrNotReady) && c.pauseNotReady(ctx, wait, err) {
				c.target.forget()
				continue
			}
			return nil, c.stepError("resolve", "", err)
		}
		user, err := c.identity(ctx)
		if err != nil {
			return nil, c.stepError("identity", "", err)
		}
		cred, err := c.credential(ctx, wait)
		if err != nil {
			return nil, c.stepError("mint", user, err)
		}
		conn, err := openPQ(ctx, c.base, c.tls, loginParams{host: host.host, port: host.port, user: user, password: cred.Value})
		if err == nil {
			c.creds.confirmed(cred)
			return conn, nil
		}
		if cerr := contextEnded(ctx); cerr != nil {
			return nil, c.stepError("dial", user, cerr) // the server had not answered
		}
		switch {
		case isAuthFailure(err) && !retriedLogin && c.creds.rejected(cred):
			retriedLogin = true
			c.loginRetries.Add(1)
			c.logger.LogAttrs(ctx, slog.LevelWarn, "lakebase: login rejected; retrying with a new credential",
				slog.String("target", c.target.describe()), slog.String("user", user))
			continue
		case isStartingUp(err) && c.pauseNotReady(ctx, wait, err):
			continue
		case !isServerError(err) && c.target.looksUp() && !retriedDial:
			retriedDial = true
			c.target.forget()
			continue
		}
		step := "dial"
		if isServerError(err) {
			step = "login"
			err = c.explainUser(ctx, user, err)
		}
		return nil, c.stepError(step, user, err)
	}
}

// pauseNotReady waits before trying a target that is not ready again, and
// says so in the log, since such waits can make Connect slow for minutes.
// It reports false when the connect budget or ctx does not allow the pause.
func (c *Connector) pauseNotReady(ctx context.Context, wait *connectWait, err error) bool {
	if !wait.pause(ctx) {
		return false
	}
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

// isServerError reports whether the server answered (lib/pq's *pq.Error), as
// opposed to a network or TLS failure.
func isServerError(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe)
}

// isStartingUp reports whether the server refused the login because it is
// starting (SQLSTATE 57P03, cannot_connect_now), as a waking endpoint does.
func isStartingUp(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && pe.Code == "57P03"
}

// isAuthFailure reports whether the server refused the login for its
// credentials: SQLSTATE 28P01 (invalid_password) or 28000
// (invalid_authorization_specification).
func isAuthFailure(err error) bool {
	var pe *pq.Error
	return errors.As(err, &pe) && (pe.Code == "28P01" || pe.Code == "28000")
}
