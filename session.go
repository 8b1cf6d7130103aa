package lakebase

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
)

// errSessionClosed is the cause of a session's network error when the server
// (or a proxy in front of it) closed the connection.
var errSessionClosed = errors.New("the server closed the connection")

// sessionConn is the network connection under one lib/pq session. lib/pq
// reports a connection that ends as driver.ErrBadConn, and on that error
// database/sql runs the statement again on another connection, even when the
// server may have run it already (lib/pq issue 939): an INSERT could be done
// twice, a long query run twice. sessionConn keeps that retry for the case
// where it is safe, a session found closed before a request goes out, and
// makes any other end of the session a plain network error:
//
//   - Before the first write of a request it checks, without blocking,
//     whether the server has closed the connection; if so, the write fails
//     with nothing sent, which lib/pq reports as driver.ErrBadConn, so that
//     database/sql retries on another connection (an idle connection dropped
//     by a restart costs the caller nothing).
//   - Once the login is done, the end of the stream while reading is a
//     *net.OpError, not io.EOF: lib/pq marks the connection bad and returns
//     the error to the caller, who learns that the outcome is unknown.
type sessionConn struct {
	net.Conn
	session atomic.Bool // the login is done
	read    atomic.Bool // the last call was a Read: the next Write starts a request
}

// Read reads from the connection.
func (c *sessionConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Store(true)
	if err == io.EOF && c.session.Load() {
		err = c.opError("read", errSessionClosed)
	}
	return n, err
}

// Write writes to the connection, unless a request would start on a
// connection that the server has closed.
func (c *sessionConn) Write(p []byte) (int, error) {
	if c.read.Swap(false) && c.session.Load() {
		if err := peerClosed(c.Conn); err != nil {
			return 0, c.opError("write", err)
		}
	}
	return c.Conn.Write(p)
}

func (c *sessionConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
