// Package pqsession is the transport under lib/pq: it dials, runs TLS, and
// watches each session's connection so that database/sql never runs a
// statement twice and a dead idle connection is replaced before anything is
// sent. An Opener opens lib/pq's own connections, unwrapped, so queries cost
// what lib/pq costs.
//
// # What it guarantees
//
//   - A statement whose request was sent is never silently run again.
//     lib/pq reports the end of the stream (io.EOF, also after the server's
//     FATAL) as driver.ErrBadConn, on which database/sql runs the statement
//     again on another connection, even though the server may have run it
//     (lib/pq issue 939). Once the login is done, a Conn reports that end as
//     a *net.OpError instead: lib/pq marks the connection bad and returns the
//     error to the caller, who learns that the outcome is unknown.
//   - A session found ended before a request is replaced transparently: the
//     write fails with nothing sent, which lib/pq reports as
//     driver.ErrBadConn, and database/sql retries on another connection.
//     A session is looked at before a request when it has been idle for
//     IdleBeforeCheck, or when another session of the same Opener was seen
//     ending since it last looked (a restart or a failover ends them all).
//     The look is one non-blocking recv(MSG_PEEK) on the socket; data found
//     waiting is the server's FATAL (a restart, pg_terminate_backend, an idle
//     timeout), TLS's close_notify, or a notice that lib/pq then reads.
//   - A session used within IdleBeforeCheck and the first of its Opener to
//     end is not looked at: its request goes out and the caller gets the
//     network error, as with pgx. lib/pq alone would retry it, safely only
//     because the server had ended the session before the request.
//   - A session retires, by age or by idleness (see Retirement), only
//     between requests outside a transaction: its write fails with nothing
//     sent, so database/sql runs the request on another connection, and a
//     transaction is never broken by it. A session's first request never
//     retires it.
//
// # How a session knows it is outside a transaction
//
// Every response that precedes a new request ends with ReadyForQuery,
// whose last byte is the transaction status ('I' idle, 'T' in a
// transaction, 'E' in a failed one). Each Read keeps the last byte it
// returned (decrypted, when the driver runs TLS), and a request retires the
// session only when that byte is 'I'. A message after ReadyForQuery (a
// notice, say) leaves another last byte, and the session retires at a
// later request. lib/pq runs COPY only inside a transaction, and the rows
// it writes follow CopyInResponse or a notice, never an 'I'. The byte rides
// in the atomic that already marks the start of a request, and the age and
// idleness come from the clock read the request's start already makes, so
// retirement costs a busy session a few compares and takes no lock: the
// rule reads only that atomic and fields set before the session started.
// Where lib/pq runs TLS itself (sslmode allow or prefer, client
// certificates, direct negotiation) the bytes a Conn reads are encrypted,
// and its sessions do not retire.
//
// # Why only idle sessions are looked at
//
// The look costs a system call. Made before every request it cost about 1%
// of SELECT 1 throughput on a pool of 8 (see docs/BENCHMARKS.md, case 2); a
// busy connection now pays two atomic loads and a read of the monotonic
// clock. pgx's pool makes the same choice (it checks a connection idle for a
// second before handing it out).
//
// # No lock or deadline against lib/pq's goroutines
//
// lib/pq reads the server's replies in a goroutine of its own during COPY
// FROM STDIN while the caller writes rows, and it dials a second connection
// for a cancel request. The look never waits for a read: it only tries the
// Conn's read lock, skips when a read is in flight (that read sees the end
// itself), runs on the descriptor through RawConn.Control (which takes none
// of the socket's locks), and sets a read deadline on TLS only while it
// holds the read lock, for at most 10 ms, clearing it before anyone else
// can read. Cancel requests are dialled after the login and are not watched.
//
// # What it relies on in lib/pq
//
// contract_test.go pins each of these, so that a lib/pq upgrade that changes
// one fails a test:
//
//   - pq.Connector.Dialer: lib/pq dials the session and its cancel requests
//     through the Dialer given, and with sslmode=disable speaks the protocol
//     in plain text over the net.Conn it returns (the driver runs TLS below
//     it for sslmode require, verify-ca and verify-full, with lib/pq's
//     meaning of every TLS setting; see newSessionTLS).
//   - A write that fails with nothing written is driver.ErrBadConn.
//   - A read that fails with a *net.OpError returns that error and marks the
//     connection bad; one that ends with io.EOF is driver.ErrBadConn.
//   - On a failed login lib/pq returns a nil connection inside a non-nil
//     driver.Conn.
package pqsession
