package lakebase_test

import (
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// tcpHold is a TCP proxy in front of a server that can hold the connections
// it accepts: while holding, a new connection is accepted and counted, then
// left without an answer until released, as a login that hangs on the
// network. The count proves that a connect reached its login.
type tcpHold struct {
	target string
	l      net.Listener

	arrived atomic.Int64 // connections accepted so far

	mu      sync.Mutex
	holding bool
	release chan struct{} // closed when held connections may go on
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

// startTCPHold starts a proxy to target ("host:port") that forwards at once
// until Hold is called; the test's cleanup stops it and ends every
// connection through it. With target empty it holds from the start and
// never answers, as a server stuck in a login would.
func startTCPHold(t testing.TB, target string) *tcpHold {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpHold{target: target, l: l, holding: target == "", release: make(chan struct{}), conns: make(map[net.Conn]struct{})}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

// Host is the proxy's host, which the kit's certificate names.
func (p *tcpHold) Host() string { return "127.0.0.1" }

// Port is the proxy's port.
func (p *tcpHold) Port() int { return p.l.Addr().(*net.TCPAddr).Port }

// DSNKeys are the DSN keys that point a connection at the proxy.
func (p *tcpHold) DSNKeys() string { return "host=" + p.Host() + " port=" + strconv.Itoa(p.Port()) }

// Arrived is how many connections the proxy has accepted.
func (p *tcpHold) Arrived() int64 { return p.arrived.Load() }

// Hold makes new connections wait, unanswered, until Release.
func (p *tcpHold) Hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.holding = true
}

// Release lets held connections through, and new ones at once.
func (p *tcpHold) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.holding {
		p.holding = false
		close(p.release)
		p.release = make(chan struct{})
	}
}

func (p *tcpHold) accept() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns[c] = struct{}{}
		release := p.release
		if !p.holding {
			release = nil
		}
		p.mu.Unlock()
		p.arrived.Add(1)
		p.wg.Go(func() { p.serve(c, release) })
	}
}

// serve waits for release (nil: none), then relays c to the target.
func (p *tcpHold) serve(c net.Conn, release chan struct{}) {
	defer p.forget(c)
	if release != nil {
		<-release
	}
	if p.target == "" {
		return
	}
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	done := make(chan struct{})
	go func() { _, _ = io.Copy(s, c); _ = s.Close(); close(done) }()
	_, _ = io.Copy(c, s)
	_ = c.Close()
	<-done
}

func (p *tcpHold) forget(c net.Conn) {
	_ = c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// close stops accepting, ends every connection and waits for them.
func (p *tcpHold) close() {
	_ = p.l.Close()
	p.Release()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
