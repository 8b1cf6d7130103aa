package lakebase

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/lakebase-go/lakebase/internal/backoff"
	"github.com/lakebase-go/lakebase/internal/telemetry"
)

// loginFunc makes one login attempt: at host, as user, with cred, calling
// dialed (when the client can tell) once the server is reached. Its error
// says what went wrong the way a PostgreSQL client says it: a refusal by the
// server carries the SQLSTATE (see sqlState); anything else is taken for a
// failure to reach the server.
type loginFunc func(ctx context.Context, host hostPort, user string, cred Token, dialed func(error)) error

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
	ctx, span := c.tel.StartConnect(ctx)
	tied, untie := c.life.Tie(ctx)
	err := c.attempts(tied, login)
	untie()
	final := err
	if err != nil {
		if cerr := contextEnded(ctx); cerr != nil {
			c.logContextEnded(ctx, cerr, err, time.Since(start))
			final = cerr
		} else if c.closed.Load() {
			final = ErrConnectorClosed
		}
	}
	c.tel.EndConnect(ctx, span, start, final, failedStep(err))
	return final
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
		sctx, end := c.tel.Step(ctx, telemetry.SpanResolve)
		sctx, release := wait.bound(sctx)
		host, err := c.target.resolve(sctx)
		release()
		end(err)
		if err != nil {
			if errors.Is(err, ErrNotReady) && c.pauseNotReady(ctx, wait, err) {
				c.target.forget()
				continue
			}
			return c.stepError("resolve", "", c.workspaceBudget(ctx, err))
		}
		c.tel.Resolved(ctx, host.host, int(host.port))
		sctx, end = c.tel.Step(ctx, telemetry.SpanIdentity)
		sctx, release = wait.bound(sctx)
		user, err := c.identity(sctx)
		release()
		end(err)
		if err != nil {
			return c.stepError("identity", "", c.workspaceBudget(ctx, err))
		}
		c.tel.Identified(ctx, user)
		sctx, end = c.tel.Step(ctx, telemetry.SpanMint)
		sctx, release = wait.bound(sctx)
		cred, err := c.creds.credential(sctx)
		release()
		end(err)
		if err != nil {
			return c.stepError("mint", user, c.workspaceBudget(ctx, err))
		}
		spans := c.tel.StartDial(ctx)
		lctx, release := wait.bound(ctx)
		err = login(lctx, host, user, cred, spans.Hook())
		release()
		spans.End(err)
		if err == nil {
			c.creds.confirmed(cred)
			return nil
		}
		if cerr := contextEnded(ctx); cerr != nil {
			return c.stepError("dial", user, cerr) // the server had not answered
		}
		if budgetEnded(err, wait) {
			if !errors.Is(err, context.DeadlineExceeded) { // lib/pq's own deadline: say it alike
				err = fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
			}
			return c.stepError("dial", user, fmt.Errorf("no answer within the connect budget of %s (connect_timeout): %w", c.budget, err))
		}
		state := sqlState(err)
		switch {
		case isAuthFailure(state) && !retriedLogin && c.creds.rejected(cred):
			retriedLogin = true
			c.loginRetries.Add(1)
			c.tel.Retrying(ctx, "lakebase.login.retry", err)
			c.logger.LogAttrs(ctx, slog.LevelWarn, "lakebase: login rejected; retrying with a new credential",
				slog.String("target", c.target.describe()), slog.String("user", user))
			continue
		case state == "57P03" && c.pauseNotReady(ctx, wait, err):
			// cannot_connect_now: the server is starting, as a waking
			// endpoint's does.
			continue
		case state == "" && c.target.looksUp() && !retriedDial:
			retriedDial = true
			c.tel.Retrying(ctx, "lakebase.dial.retry", err)
			c.target.forget()
			continue
		}
		step := "dial"
		if state != "" {
			step = "login"
			err = c.explainPooler(c.explainUser(ctx, user, err))
		}
		return c.stepError(step, user, err)
	}
}

// workspaceBudget says so when err, a workspace step's failure, is the end
// of the connect budget that connect_timeout (or the default) set, rather
// than of ctx; a throttled workspace says so itself, and a failure handed
// out during its backoff is an earlier one.
func (c *Connector) workspaceBudget(ctx context.Context, err error) error {
	var be *backoff.Error
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrThrottled) || errors.As(err, &be) || contextEnded(ctx) != nil {
		return err
	}
	return fmt.Errorf("no answer from the workspace within the connect budget of %s (connect_timeout): %w", c.budget, err)
}

// budgetEnded reports whether err says that the connect budget, not ctx,
// ran out during the login: the deadline login set (context's), or lib/pq's
// own connect_timeout deadline on the socket (an i/o timeout once the budget
// has passed).
func budgetEnded(err error, wait *connectWait) bool {
	return errors.Is(err, context.DeadlineExceeded) ||
		(errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(wait.deadline))
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
