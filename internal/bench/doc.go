// Package bench measures the lakebase driver against lib/pq, and pgx's
// stdlib as a reference, on the same test kit in the same run: connecting,
// queries on a pool, the credential cache, a storm of connections on a cold
// connector, credential rotation, and the naive credential strategies that
// users write by hand; the lakebasepgx pool against a plain pgxpool
// holding a valid credential; and, through a real PgBouncer in transaction
// mode, lakebase against lib/pq, and thousands of client connections held
// open at once in front of a server that takes a hundred.
//
// Run reports each case as a table with the median over rounds, the spread,
// the ratio of lakebase to lib/pq, and the targets the driver must meet. The
// command in internal/bench/run runs it and exits non-zero when a target is missed;
// the Benchmark functions of this package's tests measure the same
// operations with go test -bench.
package bench
