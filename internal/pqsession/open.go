package pqsession

import (
	"context"
	"crypto/tls"
	"database/sql/driver"
	"net"
	"sync"
	"time"

	"github.com/lib/pq"
)

// Login is what one connection attempt adds to the base lib/pq
// configuration.
type Login struct {
	Host     string
	Port     uint16
	User     string
	Password string
	// Dialed, if set, is called once the TCP dial (and the TLS the driver
	// runs) has finished, with its error: telemetry's split of the dial
	// from the login.
	Dialed func(error)
}

// Opener opens the sessions of one connector: lib/pq connections with one
// base configuration, over TLS that the driver runs where it can.
type Opener struct {
	base   pq.Config
	tls    *sessionTLS // nil: lib/pq runs TLS, if any
	plain  bool        // sslmode=disable
	retire Retirement
}

// NewOpener returns the Opener of the lib/pq configuration base, whose
// host, port, user and password each Open sets, and whose sessions retire
// as retire says, unless lib/pq runs TLS itself (see CanDial): a Conn then
// reads encrypted bytes and cannot tell whether a transaction is open, so
// none retires. It reads the TLS root certificates now: a file that cannot
// be read or holds no certificate is an error naming sslrootcert.
func NewOpener(base pq.Config, retire Retirement) (*Opener, error) {
	st, err := newSessionTLS(base)
	if err != nil {
		return nil, err
	}
	o := &Opener{base: base, tls: st, plain: base.SSLMode == pq.SSLModeDisable}
	if o.CanDial() {
		o.retire = retire
	}
	if st != nil {
		o.base.SSLMode = pq.SSLModeDisable // lib/pq speaks plain text over the driver's TLS
	}
	return o, nil
}

// CanDial reports whether Dial gives a connection as Open's sessions get
// one: over the TLS the driver runs, or in plain text with sslmode=disable.
// It is false where lib/pq runs TLS itself (sslmode allow or prefer, client
// certificates, direct negotiation).
func (o *Opener) CanDial() bool { return o.tls != nil || o.plain }

// Dial opens a connection to address for a PostgreSQL client other than
// lib/pq (pgx, say), ready for its StartupMessage: TCP, then TLS as Open's
// sessions get it, for server name host. Use it only where CanDial.
func (o *Opener) Dial(ctx context.Context, network, address, host string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return o.Secure(ctx, conn, host)
}

// Secure starts TLS as Open's sessions get it, for server name host, on
// conn, a connection to the server that the caller dialled through a
// transport of its own (a tunnel, a proxy, a pipe), and returns the
// connection ready for the StartupMessage: conn itself with
// sslmode=disable. It closes conn when it fails. Use it only where CanDial.
func (o *Opener) Secure(ctx context.Context, conn net.Conn, host string) (net.Conn, error) {
	if o.tls == nil {
		return conn, nil
	}
	tc, err := o.tls.start(ctx, conn, host)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return tc, nil
}

// Open opens one lib/pq connection for login. The result is lib/pq's own
// connection, unwrapped, over a Conn. lib/pq honours ctx only while
// dialling; Open also ends the TLS handshake and the login when ctx ends,
// and then returns ctx.Err() itself.
func (o *Opener) Open(ctx context.Context, login Login) (driver.Conn, error) {
	pc := o.base // a copy: the shared base is never changed
	pc.Host, pc.Port, pc.User, pc.Password = login.Host, login.Port, login.User, login.Password
	pqc, err := pq.NewConnectorConfig(pc)
	if err != nil {
		return nil, err
	}
	d := &handshakeDialer{ctx: ctx, opener: o, host: login.Host, dialed: login.Dialed}
	pqc.Dialer(d)
	conn, err := pqc.Connect(ctx)
	// On failure lib/pq returns a nil *conn inside a non-nil driver.Conn:
	// only err tells whether there is a connection.
	if !d.release(err == nil) {
		if err == nil {
			_ = conn.Close()
		}
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	return conn, nil
}

// handshakeDialer dials TCP, and TLS when the driver runs it, and, until
// released, breaks off any connection it made as soon as ctx ends, by moving
// the connection's deadline to the past. Once released it dials lib/pq's
// cancel requests, detached from ctx.
type handshakeDialer struct {
	ctx    context.Context
	opener *Opener
	host   string // for TLS's server name
	dialer net.Dialer
	dialed func(error) // Login.Dialed

	mu       sync.Mutex
	released bool
	stops    []func() bool
	sessions []*Conn
}

// DialContext implements lib/pq's DialerContext.
func (d *handshakeDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	conn, err := d.dial(ctx, network, address)
	if d.dialed != nil && !d.isReleased() {
		d.dialed(err)
	}
	return conn, err
}

// isReleased reports whether release was called: dials after it are cancel
// requests.
func (d *handshakeDialer) isReleased() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.released
}

// dial is DialContext without the dialed hook.
func (d *handshakeDialer) dial(ctx context.Context, network, address string) (net.Conn, error) {
	conn, err := d.dialer.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	released := d.released
	if !released {
		d.stops = append(d.stops, context.AfterFunc(d.ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) }))
	}
	d.mu.Unlock()
	if released { // a cancel request of the open session
		return d.opener.Secure(ctx, conn, d.host)
	}
	var session net.Conn = conn
	if st := d.opener.tls; st != nil {
		tc, err := st.start(ctx, conn, d.host)
		if err != nil {
			_ = conn.Close()
			return nil, err
		}
		session = tc
	}
	sc := newConn(session, conn)
	d.mu.Lock()
	d.sessions = append(d.sessions, sc)
	d.mu.Unlock()
	return sc, nil
}

// Dial implements lib/pq's Dialer.
func (d *handshakeDialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(d.ctx, network, address)
}

// DialTimeout implements lib/pq's Dialer.
func (d *handshakeDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(d.ctx, timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}

// release stops watching the context and, when the login succeeded, starts
// the session on the connections dialled, each with a lifetime of its own. It reports false when the context
// ended first, in which case a connection may have been broken off.
func (d *handshakeDialer) release(loggedIn bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.released = true
	ok := true
	for _, stop := range d.stops {
		if !stop() {
			ok = false
		}
	}
	if ok && loggedIn {
		for _, sc := range d.sessions {
			sc.start(d.opener.retire)
		}
	}
	return ok
}

// Look looks at one connection that Dial or Secure returned (TCP, or TLS
// over TCP), for a client other than lib/pq: pgx's pool, before it hands
// out a connection, uses it to find a session that the server ended before
// it sends a request on it.
type Look struct{ peek *peeker }

// NewLook returns the Look of conn, made once per connection: a look then
// allocates nothing.
func NewLook(conn net.Conn) *Look {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	return &Look{peek: newPeeker(conn)}
}

// Unread reports, without blocking or taking anything, whether the server
// has closed the connection or sent something that nobody has read yet. It
// costs one non-blocking system call, and reports false where the socket
// cannot be looked at.
func (l *Look) Unread() bool {
	closed, waiting := l.peek.peerClosed()
	return closed != nil || waiting
}
