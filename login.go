package lakebase

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"strconv"

	"github.com/lakebase-go/lakebase/internal/pqsession"
)

// Login is one login attempt of Open: where to log in, as whom, with which
// credential, and how to reach the server. It prints without its
// credential's value (see Token).
type Login struct {
	// Host and Port are the server's: the instance's or endpoint's host as
	// looked up now (the read-only one with read_only=true), or the Config's.
	Host string
	Port int
	// User is the Postgres role and Database the database to open.
	User     string
	Database string
	// Credential is the password to present: a minted credential from the
	// connector's cache, or the native role's password.
	Credential Token
	// RuntimeParams are the run-time parameters to send at startup, as lib/pq
	// sends them: application_name, options and the Config's other server
	// settings. Each Login has its own copy.
	RuntimeParams map[string]string

	opener *pqsession.Opener // nil: made by hand, not by Open, so without TLS settings
	dialed func(error)       // told of the first dial's outcome, for the connect's spans; may be nil
}

// errNotOpened is returned by the Dial of a Login that Open did not make.
var errNotOpened = errors.New("lakebase: dial: the Login was not made by Connector.Open, so it has no TLS settings")

// Dial opens a connection to address (Host and Port for the login; the
// server's address again for a cancel request of the session) and starts
// TLS as the driver does, for server name Host: with sslmode require,
// verify-ca and verify-full (sslrootcert, sslsni and the protocol versions
// included) the TLS is the very code the driver runs; with disable the
// connection is plain TCP. The returned connection is ready for the
// StartupMessage. A Login made by hand, not by Open, cannot dial. The
// connect's trace has the first dial as its lakebase.dial span and what
// follows, up to login's return, as its lakebase.login span, as Connect's
// has.
func (l Login) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	return l.DialWith(ctx, nil, network, address)
}

// DialWith is Dial over a transport of the caller's: dial opens the raw
// connection to address (through an SSH tunnel, a SOCKS proxy, an
// in-memory pipe in tests), and the driver's TLS runs on top of it as Dial
// runs it on TCP. A nil dial is Dial's TCP. The connection that dial
// returns is closed when TLS fails.
func (l Login) DialWith(ctx context.Context, dial func(ctx context.Context, network, address string) (net.Conn, error), network, address string) (net.Conn, error) {
	if l.opener == nil {
		return nil, errNotOpened
	}
	var conn net.Conn
	var err error
	if dial == nil {
		conn, err = l.opener.Dial(ctx, network, address, l.Host)
	} else if conn, err = dial(ctx, network, address); err == nil {
		conn, err = l.opener.Secure(ctx, conn, l.Host)
	}
	if l.dialed != nil {
		l.dialed(err)
	}
	return conn, err
}

// Open opens a connection with a PostgreSQL client of the caller's own
// (pgx's, say; see the lakebasepgx package), on the connector's engine: it
// resolves the host, learns the identity and takes a credential from the
// cache as Connect does, and calls login to log in with them. login reports
// the outcome with its error, in the client's own type: a refusal by the
// server must carry its SQLSTATE through a SQLState() string method, as
// pgconn's *PgError and lib/pq's *pq.Error do, and any other error is taken
// for a failure to reach the server.
//
// Open then does what Connect does for its own logins, so the caller never
// reports an outcome itself: a login that succeeds confirms the credential;
// one refused with SQLSTATE 28P01 or 28000 drops it and calls login once more
// with a new one; a server that is starting (57P03), or a target that is
// starting or waking, is waited for within the connect budget (ctx's
// deadline, else connect_timeout, else two minutes); a failure to reach a
// looked-up host looks it up again and calls login once more, since the
// instance may have failed over. login must honour ctx and close whatever it
// opened when it fails.
//
// Open's errors are Connect's: *ConnectError naming the step, wrapping
// login's error for errors.As, or ctx.Err() when ctx ends. TLS runs in
// Login.Dial and DialWith for sslmode disable, require, verify-ca and
// verify-full; the settings that lib/pq handles itself (allow, prefer,
// client certificates, sslnegotiation=direct) are refused with
// ErrInvalidDSN before anything is looked up.
func (c *Connector) Open(ctx context.Context, login func(ctx context.Context, l Login) error) error {
	if !c.opener.CanDial() {
		return invalidKey("sslmode", "Open runs TLS itself for sslmode disable, require, verify-ca and verify-full, without client certificates or direct negotiation; this configuration needs lib/pq's (sslmode %s)", strconv.Quote(string(c.base.SSLMode)))
	}
	return c.open(ctx, func(ctx context.Context, host hostPort, user string, cred Token, dialed func(error)) error {
		return login(ctx, Login{
			Host: host.host, Port: int(host.port), User: user, Database: c.cfg.DBName,
			Credential:    cred,
			RuntimeParams: c.runtimeParams(),
			opener:        c.opener,
			dialed:        dialed,
		})
	})
}

// runtimeParams returns a copy of the run-time parameters that lib/pq sends
// at startup for the connector's configuration.
func (c *Connector) runtimeParams() map[string]string {
	params := maps.Clone(c.base.Runtime)
	if params == nil {
		params = make(map[string]string, 2)
	}
	for key, value := range map[string]string{"application_name": c.base.ApplicationName, "options": c.base.Options} {
		if value != "" {
			params[key] = value
		}
	}
	return params
}

// String describes the login without its credential's value.
func (l Login) String() string {
	return fmt.Sprintf("lakebase.Login(host=%s user=%s dbname=%s credential=%s)",
		net.JoinHostPort(l.Host, strconv.Itoa(l.Port)), strconv.Quote(l.User), strconv.Quote(l.Database), l.Credential)
}

// GoString is String, so that %#v does not print the value either.
func (l Login) GoString() string { return l.String() }
