package lakebase

import (
	"context"
	"database/sql/driver"
	"net"
	"sync"
	"time"

	"github.com/lib/pq"
)

// loginParams are what one connection attempt adds to the base lib/pq
// configuration.
type loginParams struct {
	host     string
	port     uint16
	user     string
	password string
	// dialed, if set, is called once the login's TCP (and driver-run TLS)
	// dial has finished, with its error: telemetry's split of dial and
	// login.
	dialed func(error)
}

// openPQ opens one lib/pq connection with the base configuration and p. The
// result is lib/pq's own connection, unwrapped, over a sessionConn, with TLS
// run by the driver where it can (see sessionTLS). lib/pq honours ctx only
// while dialling; openPQ also ends the TLS handshake and the login when ctx
// ends, and then returns ctx.Err() itself.
func openPQ(ctx context.Context, base pq.Config, st *sessionTLS, p loginParams) (driver.Conn, error) {
	pc := base // a copy: the shared base is never changed
	pc.Host, pc.Port, pc.User, pc.Password = p.host, p.port, p.user, p.password
	if st != nil {
		pc.SSLMode = pq.SSLModeDisable // lib/pq speaks plain text over the driver's TLS
	}
	pqc, err := pq.NewConnectorConfig(pc)
	if err != nil {
		return nil, err
	}
	d := &handshakeDialer{ctx: ctx, tls: st, host: p.host, dialed: p.dialed}
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
	tls    *sessionTLS // nil: lib/pq runs TLS, if any
	host   string      // for TLS's server name
	dialer net.Dialer
	dialed func(error) // loginParams.dialed

	mu       sync.Mutex
	released bool
	stops    []func() bool
	sessions []*sessionConn
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
	sc := &sessionConn{Conn: conn, tcp: conn, peek: newPeeker(conn)}
	if d.tls != nil {
		tc, err := d.tls.start(ctx, conn, d.host)
		if err != nil {
			_ = conn.Close()
			return nil, err
		}
		sc.Conn = tc
	}
	if released { // a cancel request of the open session
		return sc.Conn, nil
	}
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
// the session on the connections dialled. It reports false when the context
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
			sc.session.Store(true)
		}
	}
	return ok
}
