package lakebasepgx

import (
	"context"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lakebase-go/lakebase/internal/pqsession"
)

// endedWait bounds each read, before a connection is handed out, of what was
// found waiting on it: the bytes are in the kernel already, so the read
// returns at once unless TLS or the message needs bytes still on the way.
// As pqsession's checkWait, it is long against a busy machine's scheduling
// delays, which would otherwise pass the deadline before the read starts.
const endedWait = 100 * time.Millisecond

// maxWaiting bounds the messages read off one idle connection before it is
// handed out (notices and notifications, which pgx hands to its handlers):
// a connection that still has some after that is handed out as it is.
const maxWaiting = 16

// prepareConn returns the PrepareConn of a pool that Configure configures:
// a connection whose session the server has ended (see ended) is destroyed
// and pgxpool takes another, and a live one goes on to the PrepareConn that
// poolCfg had, or else to its BeforeAcquire, which pgxpool ignores next to
// a PrepareConn and this one therefore calls, as pgxpool would have.
func prepareConn(poolCfg *pgxpool.Config) func(context.Context, *pgx.Conn) (bool, error) {
	next := poolCfg.PrepareConn
	if before := poolCfg.BeforeAcquire; next == nil && before != nil {
		next = func(ctx context.Context, conn *pgx.Conn) (bool, error) { return before(ctx, conn), nil }
	}
	return func(ctx context.Context, conn *pgx.Conn) (bool, error) {
		if ended(conn.PgConn()) {
			return false, nil // destroyed; pgxpool takes another
		}
		if next != nil {
			return next(ctx, conn)
		}
		return true, nil
	}
}

// ended reports whether pc's session is over, as far as can be told without
// sending anything: pgx closed it, or the server closed the connection or
// sent its FATAL (a restart, pg_terminate_backend, an idle limit) since pgx
// last read from it.
//
// The look is pqsession.Look's: one non-blocking peek at the socket, so a
// live connection with nothing waiting costs a system call. Only when
// something waits is it read, one message at a time, with pgx's own
// ReceiveMessage: a FATAL makes pgx close the connection (its default
// OnPgError), the end of the stream too, and a notice or a notification
// goes to the connection's handlers and leaves it open. The read has a
// deadline of its own rather than a context: pgx would hand a context to
// the connection's context watcher, which, with pgconn's
// CancelRequestContextWatcherHandler, sends the server a cancel request
// when it ends (CheckConn, whose context ends after 1 ms, would do that).
//
// What pgx has read already and not yet handled (a FATAL that came in the
// same read as a notice before it) and a connection that cannot be looked
// at (another transport than TCP, a wrapper of the application's that does
// not say what it wraps) are beyond the look: the next statement finds the
// end, as without it.
func ended(pc *pgconn.PgConn) bool {
	if pc.IsClosed() {
		return true
	}
	look := lookOf(pc.Conn())
	if look == nil {
		return false
	}
	for range maxWaiting {
		if !look.Unread() {
			return false
		}
		if !readWaiting(pc) || pc.IsClosed() {
			return pc.IsClosed()
		}
	}
	return false
}

// readWaiting reads one message waiting on pc, within endedWait, and
// reports whether it read one. A read that fails otherwise than by the
// deadline has closed pc.
func readWaiting(pc *pgconn.PgConn) bool {
	conn := pc.Conn()
	if err := conn.SetReadDeadline(time.Now().Add(endedWait)); err != nil {
		return false
	}
	// context.Background: no context watcher (see ended).
	_, err := pc.ReceiveMessage(context.Background())
	if !pc.IsClosed() {
		_ = conn.SetReadDeadline(time.Time{})
	}
	return err == nil
}

// lookOf returns the Look of the session's replayConn under conn, and
// under wrappers that say what they wrap (NetConn, as tls.Conn says it)
// which an AfterNetConnect of the application's may have put around it; nil
// when there is none.
func lookOf(conn net.Conn) *pqsession.Look {
	for range 8 {
		switch c := conn.(type) {
		case *replayConn:
			return c.look
		case interface{ NetConn() net.Conn }:
			conn = c.NetConn()
		default:
			return nil
		}
	}
	return nil
}
