package lakebase

import (
	"context"
	"log/slog"
	"time"
)

// Credential returns a credential that is valid for a new connection, from
// the connector's cache, minting one if needed: for tools that open
// connections themselves (a pgx pool's BeforeConnect hook, psql). In native
// password mode it is the password, without expiry. Errors are
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
	return Token{Value: cred.Value, Expiry: cred.Expiry}, nil
}

// Rejected tells the connector that the server refused tok at login
// (SQLSTATE 28P01 or 28000), for tools that log in with Credential
// themselves: a credential revoked early would otherwise be handed out
// until it expires. If tok is still the connector's current credential, it
// is dropped, and the next Credential or Connect obtains a new one, as
// Connect does after a login of its own is refused. A credential already
// replaced is ignored, so that many connections refused with the same one
// cause one new credential. A credential that never logged in (see
// Accepted) is dropped at most once per backoff, since the identity itself
// may be refused. Rejected never blocks and never calls the workspace
// itself; it does nothing in native password mode and after Close.
func (c *Connector) Rejected(tok Token) {
	cc, ok := c.creds.(cachedCredentials)
	if !ok || c.closed.Load() {
		return
	}
	msg := "lakebase: login rejected; the next credential is a new one"
	if !cc.rejected(credential{Value: tok.Value, Expiry: tok.Expiry}) {
		msg = "lakebase: login rejected; the credential is kept, since a new one was refused moments ago (does the identity have a Postgres role?)"
	}
	c.logger.LogAttrs(context.Background(), slog.LevelWarn, msg, slog.String("target", c.target.describe()))
}

// Accepted tells the connector that the server accepted tok at login, for
// tools that log in with Credential themselves, as Connect does for its own
// logins. A credential that has logged in and is later refused was revoked:
// Rejected drops it at once. One that never logged in may be refused for the
// identity itself (a missing role), which no new credential mends: Rejected
// drops such credentials at most once per backoff. Accepted never blocks;
// it does nothing in native password mode and after Close.
func (c *Connector) Accepted(tok Token) {
	cc, ok := c.creds.(cachedCredentials)
	if !ok || c.closed.Load() {
		return
	}
	cc.confirmed(credential{Value: tok.Value, Expiry: tok.Expiry})
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
