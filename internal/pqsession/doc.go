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
//   - The server's reason is kept. PostgreSQL sends an ErrorResponse of
//     severity FATAL before it ends a session (57P01 for a restart or
//     pg_terminate_backend, 57P02, 57P03, 25P03, 57P05); when the stream
//     ends with one, the *net.OpError wraps an *EndedError holding the
//     server's *pq.Error, which errors.As finds, and says whether the
//     request had been sent.
//   - A session found ended before a request is replaced transparently, or,
//     inside a transaction, fails with the reason: nothing is sent either
//     way. Before every request a Conn looks at its socket (one non-blocking
//     recv(MSG_PEEK)); when the server has closed it, or what waits on it is
//     the server's FATAL or TLS's close_notify, the write fails with nothing
//     sent. Outside a transaction lib/pq reports that as driver.ErrBadConn
//     and database/sql runs the request on another connection, however
//     recently the session was used; inside one, where database/sql cannot
//     move it, the error carries the reason (see Conn.deadWrite). Data that
//     waits and is not the end (a notice, a notification) is read for
//     lib/pq, which handles it as before.
//   - A session retires, by age or by idleness (see Retirement), only
//     between requests outside a transaction: its write fails with nothing
//     sent, so database/sql runs the request on another connection, and a
//     transaction is never broken by it. A session's first request never
//     retires it.
//
// What lib/pq reports itself is out of reach: once lib/pq has marked a
// connection bad, its later calls (a COMMIT after a statement failed with
// the reason, the rows of a COPY whose session ended) return a bare
// driver.ErrBadConn without touching the connection.
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
// # What the look costs
//
// One system call per request: about 1.3 microseconds on the 2-core
// virtual machine of docs/BENCHMARKS.md, where any system call costs about
// a microsecond, and a few hundred nanoseconds on hardware that needs no
// page-table isolation. A watcher goroutine per session, reading the socket
// as data arrives so that a request asks an atomic instead, was measured
// and dropped: it saves that call but adds a handover between goroutines to
// every response, about 5 microseconds more per round trip on loopback.
// pgx's pool looks only at connections idle for a second; a session ended
// within that second then fails its next request.
//
// # No lock or deadline against lib/pq's goroutines
//
// lib/pq reads the server's replies in a goroutine of its own during COPY
// FROM STDIN while the caller writes rows, and it dials a second connection
// for a cancel request. The look never waits for a read: it runs on the
// descriptor through RawConn.Control (which takes none of the socket's
// locks); when it finds data, the check only tries the Conn's read lock,
// skips when a read is in flight (that read sees the end itself), and sets
// a read deadline only while it holds the read lock, for at most 10 ms,
// clearing it before anyone else can read. Cancel requests are dialled
// after the login and are not watched.
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
