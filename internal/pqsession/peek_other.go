//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package pqsession

import "net"

// peeker cannot look at the socket here: a request on a connection that the
// server closed while idle fails (without being run twice) instead of being
// retried on another connection.
type peeker struct{}

func newPeeker(net.Conn) *peeker { return &peeker{} }

func (*peeker) peerClosed() (closed error, waiting bool) { return nil, false }
