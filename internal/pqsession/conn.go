package pqsession

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
)

// errSessionClosed is the cause of a session's network error when the server
// (or a proxy in front of it) closed the connection without a reason.
var errSessionClosed = errors.New("the server closed the connection")

// checkWait bounds the read, before a request, of data found waiting on a
// session: the data is in the kernel already, so the read returns at once
// unless TLS needs the rest of a record. The deadline is set before the
// read starts, and a goroutine that the scheduler holds back past it never
// reads at all, so it must be long against a busy machine's delays (10 ms
// were not, with both cores busy): only a record still arriving waits it.
const checkWait = 100 * time.Millisecond

// errorResponse is the type byte of the protocol's ErrorResponse message.
const errorResponse = 'E'

// Conn is the connection under one lib/pq session: TLS that the driver runs
// (see sessionTLS) or plain TCP. See the package doc for what it
// guarantees.
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

	// ended is set once the session is known to be over.
	ended atomic.Pointer[ending]

	// readMu is held by every Read and guards the fields below. The check
	// before a request only tries it: a Read in flight (lib/pq's COPY
	// goroutine, say) will see the end of the session itself, and the check
	// never waits for it.
	readMu   sync.Mutex
	pending  []byte // read by the check before a request; lib/pq's next
	txStatus byte   // of the last ReadyForQuery read
	tail     tail   // the last bytes read, for the server's reason
}

// ending is how a session ended: the error its requests get from then on,
// and whether it was inside a transaction.
type ending struct {
	reason *pq.Error // the server's FATAL; nil: it gave none
	inTx   bool
}

// newConn returns the session connection over tcp; conn is tcp, or TLS
// over it.
func newConn(conn, tcp net.Conn) *Conn {
	return &Conn{Conn: conn, peek: newPeeker(tcp), epoch: time.Now(), txStatus: txIdle}
}

// Read reads from the connection. Once the login is done, the end of the
// stream is a *net.OpError, never io.EOF, which lib/pq reports as
// driver.ErrBadConn and on which database/sql would run the statement
// again: lib/pq marks the connection bad and returns the error. When the
// server said why (its FATAL is the last message read), the error wraps an
// *EndedError with the server's *pq.Error.
func (c *Conn) Read(p []byte) (int, error) {
	c.readMu.Lock()
	n, err := c.readLocked(p)
	c.lastRead.Store(int64(time.Since(c.epoch)))
	mark := uint32(readMark)
	if n > 0 {
		mark |= uint32(p[n-1])
		if n >= 6 && p[n-6] == 'Z' && p[n-2] == 5 && p[n-3]|p[n-4]|p[n-5] == 0 {
			c.txStatus = p[n-1]
		}
		c.tail.keep(p[:n])
	}
	c.read.Store(mark)
	if err != nil && c.session.Load() && !isTimeout(err) {
		err = c.endRead(err)
	}
	c.readMu.Unlock()
	return n, err
}

// endRead records the end of the session that a read met, with the
// server's reason if the stream ended with one, and returns the read's
// error as a *net.OpError.
func (c *Conn) endRead(err error) error {
	var cause error = errSessionClosed
	if err != io.EOF && err != io.ErrUnexpectedEOF {
		cause = err
		if ne, ok := err.(*net.OpError); ok {
			cause = ne.Err
		}
	}
	e := &ending{inTx: c.txStatus != txIdle}
	if server := fatalAtEnd(c.tail.b[:c.tail.n]); server != nil {
		e.reason = server
		cause = &EndedError{Server: server, Sent: true}
	}
	c.ended.CompareAndSwap(nil, e)
	return c.opError("read", cause)
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
// session (see Retirement). Before any other request it looks at the socket
// (one non-blocking system call): a request on a session that has ended is
// not sent (see deadWrite). The session has ended when a read met its end,
// when the server has closed the connection, or when what waits on the
// socket is the end (see check).
func (c *Conn) Write(p []byte) (int, error) {
	if r := c.read.Swap(0); r != 0 && c.session.Load() {
		if e := c.ended.Load(); e != nil {
			return c.deadWrite(p, e)
		}
		age := time.Since(c.epoch)
		if c.retires(byte(r), age, age-time.Duration(c.lastRead.Load())) {
			return 0, c.opError("write", errConnRetired)
		}
		if closed, waiting := c.peek.peerClosed(); closed != nil || waiting {
			if e := c.check(closed); e != nil {
				return c.deadWrite(p, e)
			}
		}
	}
	return c.Conn.Write(p)
}

// deadWrite fails a request on a session that has ended, with nothing sent.
// Outside a transaction it reports nothing written, which lib/pq returns as
// driver.ErrBadConn: database/sql then runs the request on another
// connection. Inside one, where database/sql cannot move it, it reports p as
// written (although nothing was) with a *net.OpError around the server's
// reason: lib/pq then returns that error itself, rather than a bare
// driver.ErrBadConn, and marks the connection bad.
func (c *Conn) deadWrite(p []byte, e *ending) (int, error) {
	var cause error = errSessionClosed
	if e.reason != nil {
		cause = &EndedError{Server: e.reason}
	}
	n := 0
	if e.inTx {
		n = len(p)
	}
	return n, c.opError("write", cause)
}

// check finds out, before a request, whether the session has ended, given
// what the look at the socket found: closed, the end of the connection, or
// else data waiting. It reads what waits (at once: it is in the kernel
// already; TLS decrypts it) into pending, for lib/pq. The session has ended
// when that is the server's FATAL message, TLS's close_notify, or the end
// of the stream; anything else (a notice, a notification) is lib/pq's.
func (c *Conn) check(closed error) *ending {
	if !c.readMu.TryLock() {
		return nil // a read in flight will meet the end itself
	}
	defer c.readMu.Unlock()
	if closed == nil && len(c.pending) == 0 {
		// No Read can start while readMu is held, so no one else sees this
		// deadline. (A deadline already past would not even try to read.)
		buf := make([]byte, 4096)
		_ = c.Conn.SetReadDeadline(time.Now().Add(checkWait))
		n, err := c.Conn.Read(buf)
		_ = c.Conn.SetReadDeadline(time.Time{})
		c.pending = buf[:n]
		if n == 0 && err != nil && !isTimeout(err) {
			closed = err
		}
	}
	e := &ending{reason: fatalFirst(c.pending), inTx: c.txStatus != txIdle}
	if e.reason == nil && closed == nil {
		return nil
	}
	c.ended.CompareAndSwap(nil, e)
	return c.ended.Load()
}

func (c *Conn) opError(op string, err error) *net.OpError {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
