package lakebase

import (
	"context"
	"fmt"
	"time"
)

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

// failureMemory is how long before a call a workspace failure still tells
// why the call ran out of time: the lookup it waited for may have started
// earlier, for another caller, and the SDK's pauses between retries grow to
// seconds.
const failureMemory = time.Minute

// endedError is the error of a Credential, Host or User call whose context
// ended (with cerr) at step: cerr itself, or, when a request to the
// workspace failed since a little before start (the SDK retries 5xx
// answers and network errors until time runs out), a *ConnectError that wraps cerr and says
// what that failure was, since "context deadline exceeded" alone does not
// tell an unreachable workspace from a slow one.
func (c *Connector) endedError(cerr error, step, user string, start time.Time) error {
	last := c.failures.Since(start.Add(-failureMemory))
	if last == "" {
		return cerr
	}
	return &ConnectError{Step: step, Target: c.target.describe(), User: user,
		Err: fmt.Errorf("the workspace did not answer in time (last failure: %s): %w", last, cerr)}
}
