// Command lakebase-bench measures the lakebase driver against lib/pq, and
// pgx's stdlib as a reference, on the same test kit in the same run:
// connecting, queries on a pool, the credential cache, a storm of connections
// on a cold connector, credential rotation, and the naive credential
// strategies that users write by hand; the lakebasepgx pool against a plain
// pgxpool holding a valid credential; and, through a real PgBouncer in
// transaction mode, lakebase against lib/pq, and thousands of client
// connections held open at once in front of a server that takes a hundred;
// the per-user pools of a Databricks App, 200 signed-in users at once; and
// a cold start, from a new connector to its first row, with every
// control-plane call a round trip away.
//
// It prints each case as a Markdown table with the median over rounds, the
// spread, the ratio of lakebase to lib/pq, and the targets the driver must
// meet, and exits with status 1 when a target is missed (2 when the run
// fails):
//
//	go run ./cmd/lakebase-bench            # the full run: 6 rounds, every target enforced
//	go run ./cmd/lakebase-bench -short     # a quick run for CI: only targets noise cannot move
//
// The Benchmark functions of its tests measure the same operations with
// go test -bench. It needs PostgreSQL's server binaries, as the test kit does.
package main
