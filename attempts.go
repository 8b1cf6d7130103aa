package lakebase

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// loginFunc makes one login attempt: at host, as user, with cred. Its error
// says what went wrong the way a PostgreSQL client says it: a refusal by the
// server carries the SQLSTATE (see sqlState); anything else is taken for a
// failure to reach the server.
type loginFunc func(ctx context.Context, host hostPort, user string, cred credential) error

// open frames the steps of one new connection, for Connect's logins through
// lib/pq and for Open's through the caller's client: it honours ctx and
// Close, and when ctx ends it returns ctx.Err() itself and logs the step it
// ended at.
func (c *Connector) open(ctx context.Context, login loginFunc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.closed.Load() {
		return ErrConnectorClosed
	}
	// Close ends the connects in flight too: their lookups, their waits for
	// a credential or a starting target, and their logins.
	start := time.Now()
	tied, untie := c.life.tie(ctx)
	err := c.attempts(tied, login)
	untie()
	if err != nil {
		if cerr := contextEnded(ctx); cerr != nil {
			c.logContextEnded(ctx, cerr, err, time.Since(start))
			return cerr
		}
		if c.closed.Load() {
			return ErrConnectorClosed
		}
	}
	return err
}

// attempts runs the steps of one connection. It retries once after a login
// rejected for authentication, when the cache drops the credential (it keeps
// it when new credentials are refused too: see credcache's Invalidate), once
// after a dial failure to a looked-up host (which may have moved), and,
// within the connect budget, while the target is starting or waking.
func (c *Connector) attempts(ctx context.Context, login loginFunc) error {
	retriedLogin, retriedDial := false, false
	wait := c.newWait(ctx)
	for {
		host, err := c.target.resolve(ctx)
		if err != nil {
			if errors.Is(err, ErrNotReady) && c.pauseNotReady(ctx, wait, err) {
				c.target.forget()
				continue
			}
			return c.stepError("resolve", "", err)
		}
		user, err := c.identity(ctx)
		if err != nil {
			return c.stepError("identity", "", err)
		}
		cred, err := c.credential(ctx, wait)
		if err != nil {
			return c.stepError("mint", user, err)
		}
		err = login(ctx, host, user, cred)
		if err == nil {
			c.creds.confirmed(cred)
			return nil
		}
		if cerr := contextEnded(ctx); cerr != nil {
			return c.stepError("dial", user, cerr) // the server had not answered
		}
		state := sqlState(err)
		switch {
		case isAuthFailure(state) && !retriedLogin && c.creds.rejected(cred):
			retriedLogin = true
			c.loginRetries.Add(1)
			c.logger.LogAttrs(ctx, slog.LevelWarn, "lakebase: login rejected; retrying with a new credential",
				slog.String("target", c.target.describe()), slog.String("user", user))
			continue
		case state == "57P03" && c.pauseNotReady(ctx, wait, err):
			// cannot_connect_now: the server is starting, as a waking
			// endpoint's does.
			continue
		case state == "" && c.target.looksUp() && !retriedDial:
			retriedDial = true
			c.target.forget()
			continue
		}
		step := "dial"
		if state != "" {
			step = "login"
		}
		return c.stepError(step, user, err)
	}
}

// sqlState returns the SQLSTATE of the server's answer in err, or "" when
// the server did not answer (a network or TLS failure). lib/pq's *pq.Error
// and pgconn's *PgError both tell it.
func sqlState(err error) string {
	var se interface{ SQLState() string }
	if errors.As(err, &se) {
		return se.SQLState()
	}
	return ""
}

// isAuthFailure reports whether the server refused the login for its
// credentials: SQLSTATE 28P01 (invalid_password) or 28000
// (invalid_authorization_specification).
func isAuthFailure(state string) bool { return state == "28P01" || state == "28000" }
