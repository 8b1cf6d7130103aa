package lakebase

import (
	"context"
	"database/sql/driver"
	"slices"
	"sync"
	"time"
)

// A Connect whose context ends during the login returns ctx.Err() at once,
// as it must, but the login it started goes on in the background and its
// session is handed to the connector's next Connect. Without that, callers
// that give up quickly turn into a connection storm: database/sql calls
// Connect again for the next request, which dials again and gives up again,
// and every connection the server accepts costs it a process, forked one at
// a time by the postmaster, even when the client has left before the
// StartupMessage. A cancel request is such a connection too, so it waits
// behind them all: in lib/pq's own suite, 100 queries with a cancelled
// context (TestQueryRowContextBad) made about 60 such connections in 40 ms,
// and held back the cancel request of a neighbouring test by up to two
// seconds on a loaded machine. lib/pq does not honour the context during a
// login, so each of its Connects finishes its login, which paces them.
//
// So a Connect first looks for a session whose caller left (a spare), or a
// login that its caller left and that is still going on, for the same host,
// port, user and credential: it takes the spare, or waits for that login
// under its own context, and dials only when there is neither or when that
// login failed. A Connect whose context ends while it waits leaves the
// login to the next one, without dialling. A spare that no Connect takes
// within spareHold is closed; Close ends the logins in the background and
// closes the spares.
//
// pgxpool does the same for its pool: a connection being made when the
// caller's context ends goes on, and joins the pool.

// spareHold is how long a spare waits for a Connect before it is closed:
// the caller that left, or database/sql for the next request, asks again
// within moments; a spare is a server connection outside database/sql's
// count (its MaxOpenConns), so it is not kept for long.
const spareHold = 5 * time.Second

// loginKey is what a session must share with a Connect for the Connect to
// take it: the attempt's host, port, user and credential (which the
// session proved, so that the Connect may confirm it).
type loginKey struct {
	host     string
	port     uint16
	user     string
	password string
}

// backgroundLogin is one login of the connector's opener, run in the
// background so that it can outlive the Connect that started it.
type backgroundLogin struct {
	key  loginKey
	done chan struct{} // closed once conn and err are set

	conn driver.Conn
	err  error
	// waited: a Connect is waiting for the outcome (at first the one that
	// started the login). Guarded by handoff.mu.
	waited bool
}

// spare is a session whose Connect had left by the time its login ended.
type spare struct {
	key   loginKey
	conn  driver.Conn
	timer *time.Timer // closes it after spareHold
}

// handoff holds the connector's logins that their Connects left and the
// sessions they gave.
type handoff struct {
	mu      sync.Mutex
	pending []*backgroundLogin // left by their Connect, still logging in
	spares  []*spare
	closed  bool
}

// adopt takes a spare for key, or waits under ctx for a login of key that
// its Connect left. ok is false when there is neither, or the login failed:
// the caller logs in itself.
func (h *handoff) adopt(ctx context.Context, key loginKey) (conn driver.Conn, err error, ok bool) {
	h.mu.Lock()
	for i, s := range h.spares {
		if s.key == key && s.timer.Stop() {
			h.spares = slices.Delete(h.spares, i, i+1)
			h.mu.Unlock()
			return s.conn, nil, true
		}
	}
	for i, bl := range h.pending {
		if bl.key == key {
			h.pending = slices.Delete(h.pending, i, i+1)
			bl.waited = true
			h.mu.Unlock()
			conn, err, ended := h.wait(ctx, bl)
			return conn, err, ended || err == nil
		}
	}
	h.mu.Unlock()
	return nil, nil, false
}

// wait waits for bl's outcome under ctx. When ctx ends first it returns
// ctx.Err() with ended set, and leaves bl to the next Connect.
func (h *handoff) wait(ctx context.Context, bl *backgroundLogin) (conn driver.Conn, err error, ended bool) {
	select {
	case <-bl.done:
		return bl.conn, bl.err, false
	case <-ctx.Done():
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	bl.waited = false
	select {
	case <-bl.done: // ended meanwhile, with no one to take it
		if bl.err == nil {
			h.keepLocked(bl.key, bl.conn)
		}
	default:
		h.pending = append(h.pending, bl)
	}
	return nil, ctx.Err(), true
}

// finish records bl's outcome: its Connect takes it, or, when no Connect
// waits for it any more, a session becomes a spare.
func (h *handoff) finish(bl *backgroundLogin, conn driver.Conn, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	bl.conn, bl.err = conn, err
	close(bl.done)
	if bl.waited {
		return
	}
	if i := slices.Index(h.pending, bl); i >= 0 {
		h.pending = slices.Delete(h.pending, i, i+1)
	}
	if err == nil {
		h.keepLocked(bl.key, conn)
	}
}

// keepLocked makes conn a spare for spareHold, or closes it once the
// connector is closed.
func (h *handoff) keepLocked(key loginKey, conn driver.Conn) {
	if h.closed {
		_ = conn.Close()
		return
	}
	s := &spare{key: key, conn: conn}
	s.timer = time.AfterFunc(spareHold, func() {
		h.mu.Lock()
		if i := slices.Index(h.spares, s); i >= 0 {
			h.spares = slices.Delete(h.spares, i, i+1)
		}
		h.mu.Unlock()
		_ = conn.Close()
	})
	h.spares = append(h.spares, s)
}

// close closes the spares, once the logins in the background have ended
// (Close ends them first), and any that a later one would give.
func (h *handoff) close() {
	h.mu.Lock()
	h.closed = true
	spares := h.spares
	h.spares = nil
	h.mu.Unlock()
	for _, s := range spares {
		if s.timer.Stop() {
			_ = s.conn.Close()
		}
	}
}
