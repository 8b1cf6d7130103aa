package pqsession

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// errSessionClosed is the cause of a session's network error when the server
// (or a proxy in front of it) closed the connection.
var errSessionClosed = errors.New("the server closed the connection")

// IdleBeforeCheck is how long a session must have been quiet (no read
// returned) before the start of a request looks at the socket for its end.
// A busy connection pays nothing; see the package doc for the measurement.
const IdleBeforeCheck = time.Second

// tlsPeekWait bounds the read of data found waiting on an idle TLS session:
// the data is in the kernel already, so the read returns at once unless it
// is part of a record.
const tlsPeekWait = 10 * time.Millisecond

// Conn is the connection under one lib/pq session: TLS that the driver runs
// (see TLS) or plain TCP. See the package doc for what it guarantees.
type Conn struct {
	net.Conn           // what lib/pq reads and writes: the TLS or TCP connection
	peek     *peeker   // looks at the TCP connection beneath
	epoch    time.Time // lastRead counts from here, on the monotonic clock
	session  atomic.Bool
	// read is set when a Read returns and cleared by the next Write, which
	// therefore starts a request.
	read     atomic.Bool
	lastRead atomic.Int64 // time.Since(epoch) when the last Read returned

	// readMu is held by every Read. The check before a request only tries
	// it: a Read in flight (lib/pq's COPY goroutine, say) will see the end
	// of the session itself, and the check never waits for it.
	readMu  sync.Mutex
	pending []byte // read by the check before a request; lib/pq's next
}

// newConn returns the session connection over tcp; conn is tcp, or TLS over
// it.
func newConn(conn, tcp net.Conn) *Conn {
	return &Conn{Conn: conn, peek: newPeeker(tcp), epoch: time.Now()}
}

// Read reads from the connection. Once the login is done, the end of the
// stream is a *net.OpError, not io.EOF: lib/pq then marks the connection bad
// and returns the error, instead of driver.ErrBadConn, on which database/sql
// would run the statement again.
func (c *Conn) Read(p []byte) (int, error) {
	c.readMu.Lock()
	n, err := c.readLocked(p)
	c.lastRead.Store(int64(time.Since(c.epoch)))
	c.read.Store(true)
	c.readMu.Unlock()
	if (err == io.EOF || err == io.ErrUnexpectedEOF) && c.session.Load() {
		err = c.opError("read", errSessionClosed)
	}
	return n, err
}

func (c *Conn) readLocked(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// Write writes to the connection. A write that starts a request on a session
// idle for IdleBeforeCheck first looks whether the server has closed it;
// then it fails with nothing written, which lib/pq reports as
// driver.ErrBadConn, so that database/sql retries on another connection.
func (c *Conn) Write(p []byte) (int, error) {
	if c.read.Swap(false) && c.session.Load() &&
		time.Duration(c.lastRead.Load()) <= time.Since(c.epoch)-IdleBeforeCheck {
		if err := c.check(); err != nil {
			return 0, c.opError("write", err)
		}
	}
	return c.Conn.Write(p)
}

// check reports whether the server has closed the session, without
// blocking. Data waiting on TCP may be TLS's close_notify: then TLS reads it
// at once; whatever it decrypts waits in pending for lib/pq (a notice, or a
// FATAL message, on which lib/pq's own retry is safe, since the server sent
// it before this request).
func (c *Conn) check() error {
	if !c.readMu.TryLock() {
		return nil
	}
	defer c.readMu.Unlock()
	if len(c.pending) > 0 {
		return nil
	}
	closed, waiting := c.peek.peerClosed()
	if closed != nil || !waiting {
		return closed
	}
	tc, ok := c.Conn.(*tls.Conn)
	if !ok {
		return nil // lib/pq reads what waits
	}
	// No Read can start while readMu is held, so no one else sees this
	// deadline. (A deadline already past would not even try to read.)
	_ = tc.SetReadDeadline(time.Now().Add(tlsPeekWait))
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

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
