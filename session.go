package lakebase

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// errSessionClosed is the cause of a session's network error when the server
// (or a proxy in front of it) closed the connection.
var errSessionClosed = errors.New("the server closed the connection")

// sessionConn is the connection under one lib/pq session: TLS that the
// driver runs (see sessionTLS) or plain TCP. lib/pq reports a connection that
// ends as driver.ErrBadConn, and on that error database/sql runs the
// statement again on another connection, even when the server may have run
// it already (lib/pq issue 939): an INSERT could be done twice, a long query
// run twice. sessionConn keeps that retry for the case where it is safe, a
// session found closed before a request goes out, and makes any other end of
// the session a plain network error:
//
//   - Before the first write of a request it checks, without blocking,
//     whether the server has closed the connection (TCP's end, or TLS's
//     close_notify); if so, the write fails with nothing sent, which lib/pq
//     reports as driver.ErrBadConn, so that database/sql retries on another
//     connection: an idle connection dropped by a restart costs the caller
//     nothing.
//   - Once the login is done, the end of the stream while reading is a
//     *net.OpError, not io.EOF: lib/pq marks the connection bad and returns
//     the error to the caller, who learns that the outcome is unknown.
type sessionConn struct {
	net.Conn          // what lib/pq reads and writes: the TLS or TCP connection
	tcp      net.Conn // the TCP connection beneath
	peek     *peeker  // looks at tcp
	session  atomic.Bool
	read     atomic.Bool // the last call was a Read: the next Write starts a request
	pending  []byte      // read by the check before a request; lib/pq's next
}

// Read reads from the connection.
func (c *sessionConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
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
		if err := c.check(); err != nil {
			return 0, c.opError("write", err)
		}
	}
	return c.Conn.Write(p)
}

// check reports whether the server has closed the connection, looking
// without blocking. Data waiting on TCP may be TLS's close_notify: then TLS
// reads it, within no time; whatever it decrypts waits in pending for lib/pq
// (a notice, or a FATAL message, on which lib/pq's own retry is safe, since
// the server sent it before this request).
func (c *sessionConn) check() error {
	closed, waiting := c.peek.peerClosed()
	if closed != nil || !waiting {
		return closed
	}
	tc, ok := c.Conn.(*tls.Conn)
	if !ok || len(c.pending) > 0 {
		return nil
	}
	// The data is there, so the read returns at once, unless it is part of
	// a record: then it times out, which leaves TLS usable with the part
	// buffered. (A deadline already past would not even try to read.)
	_ = tc.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	buf := make([]byte, 4096)
	n, err := tc.Read(buf)
	_ = tc.SetReadDeadline(time.Time{})
	c.pending = buf[:n]
	var ne net.Error
	switch {
	case err == nil, errors.As(err, &ne) && ne.Timeout():
		return nil
	case errors.Is(err, io.EOF):
		return errSessionClosed
	}
	return err // a reset, say: the session is over either way
}

func (c *sessionConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
