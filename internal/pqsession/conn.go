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

// errSessionEnding is the cause when an idle session holds an error from the
// server: outside a request, that is the FATAL message before the server
// closes the connection (a restart, pg_terminate_backend, a timeout).
var errSessionEnding = errors.New("the server ended the session")

// errorResponse is the type byte of the protocol's ErrorResponse message.
const errorResponse = 'E'

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
	// read is set when a Read returns, to readMark and the last byte it
	// returned (the transaction status, when that ends a response), and
	// cleared by the next Write, which therefore starts a request.
	read     atomic.Uint32
	lastRead atomic.Int64 // time.Since(epoch) when the last Read returned

	// lifetime and maxIdle are when the session retires (see Retirement),
	// set by start; zero: never.
	lifetime, maxIdle time.Duration

	// ended counts the sessions of the Opener seen ending; seen is its value
	// when this session last looked at its socket.
	ended *atomic.Uint64
	seen  atomic.Uint64

	// readMu is held by every Read. The check before a request only tries
	// it: a Read in flight (lib/pq's COPY goroutine, say) will see the end
	// of the session itself, and the check never waits for it.
	readMu  sync.Mutex
	pending []byte // read by the check before a request; lib/pq's next
}

// newConn returns the session connection over tcp; conn is tcp, or TLS over
// it. ended counts the sessions of its Opener seen ending.
func newConn(conn, tcp net.Conn, ended *atomic.Uint64) *Conn {
	c := &Conn{Conn: conn, peek: newPeeker(tcp), epoch: time.Now(), ended: ended}
	c.seen.Store(ended.Load())
	return c
}

// Read reads from the connection. Once the login is done, the end of the
// stream is a *net.OpError, not io.EOF: lib/pq then marks the connection bad
// and returns the error, instead of driver.ErrBadConn, on which database/sql
// would run the statement again.
func (c *Conn) Read(p []byte) (int, error) {
	c.readMu.Lock()
	n, err := c.readLocked(p)
	c.lastRead.Store(int64(time.Since(c.epoch)))
	mark := uint32(readMark)
	if n > 0 {
		mark |= uint32(p[n-1])
	}
	c.read.Store(mark)
	c.readMu.Unlock()
	if err != nil && c.session.Load() {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = c.opError("read", errSessionClosed)
		}
		if !isTimeout(err) {
			c.ended.Add(1)
		}
	}
	return n, err
}

// isTimeout reports a deadline's error, which does not end the session.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *Conn) readLocked(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// Write writes to the connection. A write that starts a request outside a
// transaction on a session past its lifetime or idle limit retires the
// session (see Retirement). Otherwise it first looks whether the server has
// closed or ended the session, when the session has been idle for
// IdleBeforeCheck or another session of its Opener was seen ending since it
// last looked. Either way the write fails with nothing written, which lib/pq
// reports as driver.ErrBadConn, so that database/sql retries on another
// connection.
func (c *Conn) Write(p []byte) (int, error) {
	if r := c.read.Swap(0); r != 0 && c.session.Load() {
		age := time.Since(c.epoch)
		idle := age - time.Duration(c.lastRead.Load())
		if c.retires(byte(r), age, idle) {
			return 0, c.opError("write", errConnRetired)
		}
		ended := c.ended.Load()
		if ended != c.seen.Load() || idle >= IdleBeforeCheck {
			c.seen.Store(ended)
			if err := c.check(); err != nil {
				c.ended.Add(1)
				return 0, c.opError("write", err)
			}
		}
	}
	return c.Conn.Write(p)
}

// check reports whether the server has closed or ended the session, without
// blocking. Data waiting on an idle session is either an asynchronous
// message (a notice, a notification) that lib/pq reads, or the server's
// FATAL message before it closes: then the session is over, and failing the
// write with nothing sent is safe. Over TLS the data may also be TLS's
// close_notify: TLS reads what waits at once, and what it decrypts waits in
// pending for lib/pq.
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
		if c.peek.first == errorResponse {
			return errSessionEnding
		}
		return nil // a notice, say: lib/pq reads it
	}
	// No Read can start while readMu is held, so no one else sees this
	// deadline. (A deadline already past would not even try to read.)
	_ = tc.SetReadDeadline(time.Now().Add(tlsPeekWait))
	buf := make([]byte, 4096)
	n, err := tc.Read(buf)
	_ = tc.SetReadDeadline(time.Time{})
	c.pending = buf[:n]
	switch {
	case n > 0 && buf[0] == errorResponse:
		return errSessionEnding
	case err == nil, isTimeout(err):
		return nil
	case errors.Is(err, io.EOF):
		return errSessionClosed
	}
	return err // a reset, say: the session is over either way
}

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
