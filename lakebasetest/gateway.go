package lakebasetest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lakebase-go/lakebase/lakebasetest/internal/certs"
	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
)

// gatewayOptions configures newGateway.
type gatewayOptions struct {
	// Target is what a credential must have been minted for to log in:
	// instanceTarget(name) or endpointTarget(path).
	Target string
	// Store holds the credentials the fake workspace minted.
	Store *credentialStore
	// Server is the PostgreSQL server behind the gateway.
	Server *pgserver.Server
	// NativeLogin also lets native roles in with their own passwords, which
	// the server checks.
	NativeLogin bool
	// NativeOnly refuses minted credentials, as the pooled (PgBouncer)
	// hosts of an endpoint once did.
	NativeOnly bool
	// Pooler, when set, gives the PgBouncer that sessions go through, as
	// on the pooled hosts of an endpoint: the gateway checks the client's
	// credential and then opens its session through PgBouncer, in
	// transaction mode, instead of on the server.
	Pooler func(context.Context) (*pgserver.PgBouncer, error)
	// TLS is the server side of TLS; nil means the kit's certificate.
	TLS *tls.Config
}

// Gateway is the front door of one Lakebase instance or endpoint host, as
// Lakebase has: it listens on 127.0.0.1, speaks the PostgreSQL protocol with
// optional TLS, asks for the password in clear text and accepts an unexpired
// credential minted for that user, or for a member of the group whose role
// that user is (see Kit.AddGroup), in this workspace (or, with
// Options.StrictCredentialBinding, for this instance or endpoint; several
// may be valid at once) or, where native login is enabled, a native role's
// password. It answers any other password as PostgreSQL does (FATAL, SQLSTATE
// 28P01), and relays accepted sessions to the server. As credentials are
// checked only at login, open sessions outlive them.
//
// Its controls simulate what clients meet in production: a waking endpoint,
// a restart and an outage. Its methods are safe for concurrent use.
type Gateway struct {
	opts gatewayOptions
	tls  *tls.Config
	addr *net.TCPAddr

	ctx  context.Context // canceled by Close
	stop context.CancelFunc

	mu        sync.Mutex
	listener  net.Listener // nil during an outage
	conns     map[net.Conn]struct{}
	closed    bool
	refuse    int
	holdUntil time.Time
	grants    map[tableGrant]int // the claimed tables' grants, by the scoped sessions that hold them

	accepted, rejected, refused, live atomic.Int64
	wg                                sync.WaitGroup
}

// GatewayStats counts what a gateway has done since it started.
type GatewayStats struct {
	// Accepted counts logins let through to the server.
	Accepted int64
	// Rejected counts logins answered with an error: a wrong, expired or
	// misdirected password (28P01), or the server's own refusal, such as an
	// unknown database.
	Rejected int64
	// Refused counts connections refused while waking (57P03).
	Refused int64
	// Live is the number of sessions being relayed now.
	Live int64
}

// newGateway starts a gateway on a free port of 127.0.0.1.
func newGateway(opts gatewayOptions) (*Gateway, error) {
	cfg := opts.TLS
	if cfg == nil {
		var err error
		if cfg, err = certs.ServerTLS(); err != nil {
			return nil, err
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lakebasetest: gateway: listen: %w", err)
	}
	g := &Gateway{
		opts:   opts,
		tls:    cfg,
		addr:   l.Addr().(*net.TCPAddr),
		conns:  make(map[net.Conn]struct{}),
		grants: make(map[tableGrant]int),
	}
	g.ctx, g.stop = context.WithCancel(context.Background())
	g.startAccepting(l)
	return g, nil
}

// Host returns the host clients connect to: 127.0.0.1, which the kit's
// certificate names, as it does localhost.
func (g *Gateway) Host() string { return g.addr.IP.String() }

// Port returns the gateway's port. It stays the same across outages.
func (g *Gateway) Port() int { return g.addr.Port }

// Addr returns "host:port", the form in which the workspace gives a host:
// Kit.Gateway finds the gateway by it, and the hosts of an Instance or an
// Endpoint take it.
func (g *Gateway) Addr() string { return g.addr.String() }

// Waking makes the gateway act like an endpoint waking up from scale to
// zero: each of the next refuse connections is refused with FATAL 57P03 "the
// database system is starting up", and connections that arrive within hold
// from now wait until then before they are served. Waking(0, 0) ends it.
func (g *Gateway) Waking(refuse int, hold time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.refuse = refuse
	g.holdUntil = time.Now().Add(hold)
}

// Restart drops every connection now, sessions and logins in progress
// alike, as a restart of the server would. New connections are served as
// before.
func (g *Gateway) Restart() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.dropAll()
}

// SetOutage starts (down true) or ends an outage. During an outage the
// gateway does not listen, so connections are refused, and the sessions it
// had are dropped. Ending it listens again on the same port.
func (g *Gateway) SetOutage(down bool) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return errors.New("lakebasetest: gateway: closed")
	}
	if down {
		if g.listener != nil {
			_ = g.listener.Close()
			g.listener = nil
		}
		g.dropAll()
		return nil
	}
	if g.listener == nil {
		l, err := net.ListenTCP("tcp", g.addr)
		if err != nil {
			return fmt.Errorf("lakebasetest: gateway: listen again on %s: %w", g.addr, err)
		}
		g.startAccepting(l)
	}
	return nil
}

// Stats returns the gateway's counters.
func (g *Gateway) Stats() GatewayStats {
	return GatewayStats{
		Accepted: g.accepted.Load(),
		Rejected: g.rejected.Load(),
		Refused:  g.refused.Load(),
		Live:     g.live.Load(),
	}
}

// Close stops listening, drops every connection and waits until all of the
// gateway's goroutines have returned.
func (g *Gateway) Close() error {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		g.stop()
		if g.listener != nil {
			_ = g.listener.Close()
			g.listener = nil
		}
		g.dropAll()
	}
	g.mu.Unlock()
	g.wg.Wait()
	return nil
}

// startAccepting serves l; g.mu is held or g is not shared yet.
func (g *Gateway) startAccepting(l net.Listener) {
	g.listener = l
	g.wg.Add(1)
	go g.acceptLoop(l)
}

func (g *Gateway) acceptLoop(l net.Listener) {
	defer g.wg.Done()
	for {
		c, err := l.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of file descriptors, say: wait a little rather than spin.
			select {
			case <-time.After(5 * time.Millisecond):
				continue
			case <-g.ctx.Done():
				return
			}
		}
		if !g.track(c) {
			_ = c.Close()
			continue
		}
		g.wg.Add(1)
		go g.serve(c)
	}
}

// track records a connection so that Restart, SetOutage and Close can drop
// it; it reports false once the gateway is closed.
func (g *Gateway) track(c net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.conns[c] = struct{}{}
	return true
}

func (g *Gateway) untrack(c net.Conn) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

// dropAll closes every tracked connection; g.mu is held.
func (g *Gateway) dropAll() {
	for c := range g.conns {
		_ = c.Close()
	}
}

// hold waits while the gateway is waking; it reports false if the gateway
// closes meanwhile.
func (g *Gateway) hold() bool {
	g.mu.Lock()
	wait := time.Until(g.holdUntil)
	g.mu.Unlock()
	return sleep(wait, g.ctx.Done(), nil)
}

// takeRefusal reports whether this connection is one that waking refuses.
func (g *Gateway) takeRefusal() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.refuse > 0 {
		g.refuse--
		return true
	}
	return false
}
