#!/usr/bin/env bash
# Runs pgx's own pgxpool test suite twice, plainly and with every pool
# routed through lakebasepgx.Configure, and compares the per-test results.
#
# What it proves: a pgxpool.Config given to Configure (with a lakebase
# connector in native-password mode, auth=password, to the same server)
# behaves as pgxpool alone in everything pgxpool's own tests check: its
# hooks, its dialer (a delay proxy, an in-memory pipe to pgx's mock
# server), pings, lifetimes, cancellation, statistics. Every test and
# subtest must give the same result (pass, fail or skip) in both runs,
# apart from the intended differences listed below, each with its reason;
# a test that hangs is a failure. The summary says how many tests made a
# pool through Configure: the others (configuration parsing, and a
# configuration that pgxpool refuses) run the same code in both runs.
#
# How: it copies the pgx version that go.mod pins from the module cache to
# a temporary directory (the whole module: the tests import its internal
# pgmock), makes pgxpool's tests call pgxsuite.New and
# pgxsuite.NewWithConfig (scripts/pgxpoolsuite/pgxsuite.go.txt, put in the
# copy as internal/pgxsuite) instead of pgxpool.New and
# pgxpool.NewWithConfig, and requires lakebase from this repository. With
# PGXSUITE_THROUGH=configure those make a lakebase connector from the
# pool's connection string and call lakebasepgx.Configure before
# pgxpool.NewWithConfig; otherwise they are pgxpool's. It starts a
# PostgreSQL on a free port of 127.0.0.1 with SCRAM roles and TLS (the
# kit's certificates, lakebasetest/internal/certs/testdata), and runs the package plainly
# and through Configure in two modes: plaintext (sslmode=disable) and TLS
# (sslmode=verify-full with the kit's CA: the driver's TLS on top of the
# tests' own dialers). The run (scripts/pqsuite, as pq-suite.sh uses it)
# records a test still running at -timeout as "hang" and runs the rest
# again without it; a test whose result differs unexpectedly runs again
# alone in both runs, and a difference the rerun does not show (both agree,
# or they differ the other way round) is printed as NOT REPRODUCED
# (pgxpool's tests time things in tens of milliseconds).
#
# Usage: bash scripts/pgxpool-suite.sh
# Time: 3 to 4 minutes measured on two cores shared with other work (load 8
# to 11), nearly all of it the four runs, of half a minute to a minute and a
# half each (the first compiles the test binary); the first run on a
# machine also downloads the modules of the copy.
# Needs Go, the PostgreSQL server binaries (initdb, pg_ctl, postgres, psql;
# in PATH or under /usr/lib/postgresql/*/bin) and, for the first run, the Go
# module proxy (go mod tidy of the copy). As root the server runs as the
# postgres user.
#
# Environment:
#   PGXSUITE_MODES    which runs: "plain tls" (default), "plain" or "tls"
#   PGXSUITE_TIMEOUT  go test -timeout of each package run (default 3m)
#   PGXSUITE_RACE     1: run with -race (slower)
#   PGXSUITE_KEEP     1: keep the temporary directory (logs, results, the copy)
#   PGXSUITE_VERBOSE  1: print the output of intended differences too
#
# Exit status: 0 only when both runs gave the same results apart from the
# intended differences; 1 on any other difference, on a hang, when no test
# ran, on a setup failure.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
modes=${PGXSUITE_MODES:-plain tls}
timeout=${PGXSUITE_TIMEOUT:-3m}
say() { printf 'pgxpool-suite: %s\n' "$*"; }
die() { printf 'pgxpool-suite: FAIL: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Intended differences: mode (plain, tls or *) | test | result of plain
# pgxpool | result through Configure | reason. Each would be a deliberate
# design difference of lakebasepgx (README); anything else is a bug. A name
# ending in * stands for every test it begins (a test's subtests). None
# today.
intended_differences() {
  cat <<'EOF'
EOF
}
# ---------------------------------------------------------------------------

start=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/pgxpool-suite.XXXXXX")
keep=${PGXSUITE_KEEP:-}
# shellcheck source=scripts/suite-lib.sh
. "$repo/scripts/suite-lib.sh"

# --- 1. pgx's source, its pool constructors routed through pgxsuite ---------
module=github.com/jackc/pgx/v5
go mod download "$module"
src=$(go list -m -f '{{.Dir}}' "$module")
version=$(go list -m -f '{{.Version}}' "$module")
[ -d "$src" ] || die "pgx $version is not in the module cache"
say "pgx $version (as go.mod pins it)"
pgx="$work/pgx"
cp -R "$src" "$pgx"
chmod -R u+w "$pgx"
mkdir -p "$pgx/internal/pgxsuite"
cp scripts/pgxpoolsuite/pgxsuite.go.txt "$pgx/internal/pgxsuite/pgxsuite.go"
for f in $(grep -l -e 'pgxpool\.New(' -e 'pgxpool\.NewWithConfig(' "$pgx"/pgxpool/*_test.go); do
  sed -i -e 's/pgxpool\.New(/pgxsuite.New(/g' -e 's/pgxpool\.NewWithConfig(/pgxsuite.NewWithConfig(/g' "$f"
  sed -i '0,/^import (/s//import (\n\t"github.com\/jackc\/pgx\/v5\/internal\/pgxsuite"/' "$f"
  # A file that used pgxpool only for its constructors keeps the import
  # blank, as Go refuses an unused one.
  grep -q 'pgxpool\.' "$f" ||
    sed -i 's|^\(\s*\)"github.com/jackc/pgx/v5/pgxpool"|\1_ "github.com/jackc/pgx/v5/pgxpool"|' "$f"
done
if grep -n -e 'pgxpool\.New(' -e 'pgxpool\.NewWithConfig(' "$pgx"/pgxpool/*_test.go; then
  die "a pgxpool.New or NewWithConfig is left after the rewrite: pgx's tests changed"
fi
calls=$(grep -c -e 'pgxsuite\.New(' -e 'pgxsuite\.NewWithConfig(' "$pgx"/pgxpool/*_test.go | awk -F: '{n += $2} END {print n}')
[ "$calls" -gt 0 ] || die "found no pool constructor in pgxpool's tests"
say "rewrote $calls pool constructor calls in pgxpool's tests"
# The copy requires lakebase from this repository; lakebasepgx, built into
# the test binary, then uses the copy of pgx under test.
use_this_lakebase "$pgx"
go build -o "$work/pqsuite" ./scripts/pqsuite

# --- 2. PostgreSQL with a SCRAM role, plaintext and TLS ---------------------
find_postgres
pgdir="$work/pg"
pgdata="$pgdir/data"
mkdir -p "$pgdir/ssl"
cp lakebasetest/internal/certs/testdata/server.pem lakebasetest/internal/certs/testdata/server-key.pem lakebasetest/internal/certs/testdata/ca.pem "$pgdir/ssl/"
chmod 600 "$pgdir/ssl/server-key.pem"
chmod 644 "$pgdir/ssl/server.pem" "$pgdir/ssl/ca.pem"
[ -z "$server_user" ] || chown -R "$server_user" "$pgdir"
as_server "$bindir/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$work/initdb.log" 2>&1 ||
  as_server "$bindir/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --no-locale >"$work/initdb.log" 2>&1 ||
  { cat "$work/initdb.log" >&2; die "initdb failed"; }
# The setup connects over the socket; the tests log in over TCP with SCRAM,
# as pgx's CI does with its roles pgx_scram (plaintext or TLS) and pgx_ssl
# (TLS only: the TLS runs log in as pgx_ssl, so that a connection without
# TLS is refused).
cat >"$pgdata/pg_hba.conf" <<'EOF'
local   all postgres               trust
host    all pgx_scram 127.0.0.1/32 scram-sha-256
hostssl all pgx_ssl   127.0.0.1/32 scram-sha-256
EOF
[ -z "$server_user" ] || chown "$server_user" "$pgdata/pg_hba.conf"
start_postgres "-c ssl_cert_file=$pgdir/ssl/server.pem -c ssl_key_file=$pgdir/ssl/server-key.pem"
"$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$pgdir" -p "$port" -U postgres -d postgres \
  -c "create user pgx_scram with superuser password 'secret'" -c "create user pgx_ssl with superuser password 'secret'" \
  -c 'create database pgx_test' >"$work/init.log" 2>&1 ||
  { cat "$work/init.log" >&2; die "the setup SQL failed"; }
say "server on 127.0.0.1:$port (ssl on, the kit's certificates)"

# --- 3. the runs ---------------------------------------------------------------
intended_differences >"$work/expect.txt"

# The environment of a run: the connection string that pgx's tests read,
# and the same server in PG* for the tests that parse an empty one. A PG*,
# PGX_*, LAKEBASE_* or DATABRICKS_* variable of the caller's would change
# what the suite tests.
clean_env=()
while IFS= read -r name; do
  case "$name" in PG* | LAKEBASE_* | DATABRICKS_*) clean_env+=(-u "$name") ;; esac
done < <(compgen -e)
race=()
[ "${PGXSUITE_RACE:-}" = 1 ] && race=(-race)

run() { # mode through sslmode [name run-pattern [pqsuite-flag]]
  local mode=$1 through=$2 sslmode=$3 name=${4:-$1} runre=${5:-} flag=${6:--parallel=0} uses= tls=() user conn
  if [ -z "$runre" ]; then
    [ "$through" = configure ] && uses="$work/uses-$mode.txt"
    : >"$work/uses-$mode.txt"
    say "run: $mode, $through (sslmode=$sslmode)"
  else
    say "rerun alone, $through: $runre"
  fi
  user=pgx_scram
  if [ "$sslmode" != disable ]; then
    user=pgx_ssl
    tls=(PGSSLROOTCERT="$pgdir/ssl/ca.pem")
  fi
  conn="host=127.0.0.1 port=$port user=$user password=secret dbname=pgx_test sslmode=$sslmode"
  [ "$sslmode" = disable ] || conn="$conn sslrootcert=$pgdir/ssl/ca.pem"
  env "${clean_env[@]}" PGXSUITE_THROUGH="$through" PGXSUITE_USES="$uses" PGX_TEST_DATABASE="$conn" \
    PGHOST=127.0.0.1 PGPORT="$port" PGUSER="$user" PGPASSWORD=secret PGDATABASE=pgx_test PGSSLMODE="$sslmode" "${tls[@]}" \
    "$work/pqsuite" run "${race[@]}" "$flag" -dir "$pgx" -module "$module/pgxpool" \
    -out "$work/$name-$through.json" -log "$work/$name-$through.jsonl" \
    -timeout "$timeout" -run "$runre" "$module/pgxpool" ||
    die "the $mode run ($through) did not complete"
}

status=0
for mode in $modes; do
  case "$mode" in
    plain) sslmode=disable ;;
    tls) sslmode=verify-full ;;
    *) die "unknown mode $mode in PGXSUITE_MODES" ;;
  esac
  run "$mode" plain "$sslmode"
  run "$mode" configure "$sslmode"
  rerun=()
  "$work/pqsuite" compare -suite pgxpool -a "$work/$mode-plain.json" -b "$work/$mode-configure.json" \
    -expect "$work/expect.txt" -mode "$mode" -list "$work/rerun-$mode.txt"
  if [ -s "$work/rerun-$mode.txt" ]; then
    runre=$(cat "$work/rerun-$mode.txt")
    run "$mode" plain "$sslmode" "rerun-$mode" "$runre" -parallel=1
    run "$mode" configure "$sslmode" "rerun-$mode" "$runre" -parallel=1
    rerun=(-a2 "$work/rerun-$mode-plain.json" -b2 "$work/rerun-$mode-configure.json")
  fi
  echo
  say "== $mode (sslmode=$sslmode): per-test results, plain pgxpool vs through Configure"
  verbose=()
  [ "${PGXSUITE_VERBOSE:-}" = 1 ] && verbose=(-v)
  "$work/pqsuite" compare -suite pgxpool -a "$work/$mode-plain.json" -b "$work/$mode-configure.json" \
    -expect "$work/expect.txt" -mode "$mode" -uses "$work/uses-$mode.txt" "${rerun[@]}" "${verbose[@]}" || status=1
  echo
done
say "took $(($(date +%s) - start))s"
if [ $status -ne 0 ]; then
  say "FAIL: plain pgxpool and pgxpool through Configure differ (above)"
  exit 1
fi
say "ok: identical apart from the intended differences"
