// Package lakebasepgx gives pgx users a pool on the lakebase driver's
// credential engine: the same DSN and Config as sql.Open("lakebase", ...),
// one credential cache per pool refreshed in the background before expiry,
// one mint however many connections start at once, and the driver's rules
// for each new connection, with no call to make in user code:
//
//   - the host, port, user, password and database come from the connector
//     when the connection logs in, so the pool follows a failover (a dial
//     that fails looks the host up again) and honours read_only;
//   - TLS is the driver's own code (sslmode require by default, the same
//     sslrootcert, verify-ca and verify-full), run by Login.DialWith on top
//     of the pool's own transport (its DialFunc and LookupFunc: pgx's
//     default, or a tunnel, a proxy or a pipe of the application's);
//   - a starting or waking target, and a server answering 57P03, are waited
//     for within the connect budget (pgx's connect_timeout, two minutes by
//     default in a pool);
//   - a login refused with SQLSTATE 28P01 or 28000 (a credential revoked
//     early) drops the credential and logs in once more with a new one, in
//     the same Acquire; logins that succeed confirm the credential, so that
//     a refused identity (no Postgres role) costs a mint per backoff, not
//     per connection;
//   - a session that the server ended while it sat idle in the pool (a
//     restart, a failover, pg_terminate_backend, an idle limit) is found
//     before the pool hands it out, by one non-blocking look at its socket
//     for the server's FATAL or the end of the connection, and replaced by
//     another connection, with nothing sent on it, however recently it was
//     used (pgxpool's own ping waits for a second of idleness; where the
//     socket cannot be looked at, a transport of the application's other
//     than TCP or a system other than Linux and the BSDs, the next statement
//     finds the end, as in pgx). A statement in flight when its session
//     ends is not run again: it fails with the server's reason, a
//     *pgconn.PgError of severity FATAL (57P01 for a restart or
//     pg_terminate_backend).
//
// NewPool opens a pool from a DSN; NewPoolWithConfig from a Config and pgx's
// pool settings; Configure adapts a pgxpool.Config the application already
// has to a connector it keeps.
//
// # How a connection logs in
//
// pgxpool has no hook that can log in twice within one connect, which the
// retry after a revoked credential needs. So each new connection's
// pgconn.DialFunc runs the whole login through lakebase.Connector.Open:
// it logs in with pgconn as Open says, retrying as Open says, takes the
// session over (pgconn's SyncConn and Hijack) and hands it to pgx's own
// connect, which finds the server's answer to the login replayed to it
// (AuthenticationOk, the parameters, the backend key, ReadyForQuery) and
// then uses the session as its own. After login, a query costs what it
// costs in pgx. The same DialFunc dials the session's cancel requests,
// with the same TLS, over the same transport. Hijack is outside pgx's
// semantic versioning promise: this package is tested with the pgx version
// in its go.mod, whose own pgxpool tests give the same results through
// Configure as without it (scripts/pgxpool-suite.sh).
//
// # Why it is in the driver's module
//
// pgx v5 is already a dependency of the driver's module (the lakebasetest
// kit speaks the protocol with pgproto3), so a module of its own would keep
// no dependency out of anyone's build while adding a second go.mod and
// version line to keep in step. Programs that import only the driver do not
// compile pgx.
package lakebasepgx
