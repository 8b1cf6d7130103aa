package pqsession

import (
	"errors"
	"math/rand/v2"
	"time"
)

// Retirement says when an Opener's sessions retire: before a request that
// would start outside a transaction on a session past its lifetime, or idle
// for longer than MaxIdleTime, the write fails with nothing sent, which
// lib/pq reports as driver.ErrBadConn, and database/sql runs the request on
// another connection. The zero value retires nothing.
type Retirement struct {
	// MaxLifetime bounds a session's age, counted from its dial. Each
	// session draws its own lifetime when it starts: MaxLifetime less a
	// random part of up to a tenth of it, so that sessions opened together
	// do not retire together. Zero: no limit.
	MaxLifetime time.Duration
	// MaxIdleTime bounds how long a session may have been quiet (no read
	// returned) before a request. Zero: no limit.
	MaxIdleTime time.Duration
}

// errConnRetired is the cause of the write that retires a session.
var errConnRetired = errors.New("the connection retired (past its lifetime or idle time); nothing was sent")

// txIdle is the transaction status that ReadyForQuery, the last message of
// every response, gives outside a transaction ('T' in one, 'E' in a failed
// one). It is the message's last byte.
const txIdle = 'I'

// readMark is set in Conn.read by every Read, above the last byte that Read
// returned, so that read is never zero after a read.
const readMark = 1 << 8

// lifetime draws one session's lifetime: MaxLifetime less up to a tenth.
func (r Retirement) lifetime() time.Duration {
	if r.MaxLifetime <= 0 {
		return 0
	}
	return r.MaxLifetime - rand.N(r.MaxLifetime/10+1)
}

// start starts the session once its login is done, with the lifetime it
// draws from r. It forgets the status of the login's last read, so that a
// session's first request is never retired however short the limits: the
// new connection that database/sql moves a request to always runs it.
// Nothing reads or writes the Conn meanwhile: lib/pq has returned from the
// login and has not yet handed the connection out.
func (c *Conn) start(r Retirement) {
	c.lifetime, c.maxIdle = r.lifetime(), r.MaxIdleTime
	c.read.Store(readMark)
	c.session.Store(true)
}

// retires reports whether the request about to start retires the session
// instead: the server's last answer left it outside a transaction (status
// is the last byte read) and it is age old, past its lifetime, or has been
// idle for longer than its idle limit.
func (c *Conn) retires(status byte, age, idle time.Duration) bool {
	return status == txIdle && (c.lifetime > 0 && age >= c.lifetime || c.maxIdle > 0 && idle >= c.maxIdle)
}
