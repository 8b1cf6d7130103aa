//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package pqsession

import (
	"errors"
	"net"
	"syscall"
)

// peeker looks at a TCP connection without blocking or consuming anything.
// It runs on the descriptor through RawConn.Control, which takes none of the
// connection's read or write locks, so that it can never wait for a read in
// flight. It keeps the raw connection and the function it runs, so that a
// look allocates nothing.
type peeker struct {
	raw     syscall.RawConn // nil: the connection cannot be looked at
	fn      func(fd uintptr)
	closed  error
	waiting bool
}

// newPeeker returns a peeker of conn.
func newPeeker(conn net.Conn) *peeker {
	p := &peeker{}
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			p.raw = raw
		}
	}
	p.fn = p.look
	return p
}

// peerClosed reports closed as errSessionClosed when the other end has
// closed the connection, or the error of a reset; waiting reports data to
// be read.
func (p *peeker) peerClosed() (closed error, waiting bool) {
	if p.raw == nil {
		return nil, false
	}
	p.closed, p.waiting = nil, false
	_ = p.raw.Control(p.fn)
	return p.closed, p.waiting
}

func (p *peeker) look(fd uintptr) {
	n, err := peekOne(fd)
	switch {
	case n > 0:
		p.waiting = true
	case n == 0 && err == nil:
		p.closed = errSessionClosed
	case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EWOULDBLOCK), errors.Is(err, syscall.EINTR):
	default:
		p.closed = err
	}
}
