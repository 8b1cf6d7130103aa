#!/usr/bin/env bash
# Runs lib/pq's own test suite through the postgres driver and through the
# lakebase driver, and compares the per-test results.
#
# What it proves: in native-password mode (LAKEBASE_AUTH=password) the
# lakebase driver is lib/pq plus lakebase's session layer; every test of lib/pq
# that opens its connections with sql.Open(driver, ...) must give the same
# result (pass, fail or skip, subtests included) through both, apart from the
# intended differences listed below, each with its reason. The summary says
# how many tests go through the driver name: the others (pq.NewConnector,
# pq.Open, pq.DialOpen, NewListener, pure unit tests) run the same code in
# both runs and prove nothing about lakebase.
#
# How: it copies the lib/pq version that go.mod pins from the module cache
# to a temporary directory, makes its tests' sql.Open("postgres", ...) calls
# use the driver named by $PQSUITE_DRIVER, registers lakebase in its test
# binaries (a file that imports it, with this repository as a replace), and
# starts a PostgreSQL set up as lib/pq's CI does (testdata/postgres: its
# pg_hba.conf, roles and certificates) on a free port of 127.0.0.1. The suite
# then runs four times: plaintext (PGSSLMODE=disable) and over TLS
# (PGSSLMODE=require, where lakebase runs TLS itself), each through postgres
# and through lakebase. A test that hangs is recorded as "hang" (a failure,
# never a pass) and the package's remaining tests run again without it. A
# test whose result differs unexpectedly runs again alone through both
# drivers (one test at a time): a difference the rerun does not show (the
# drivers agree, or differ the other way round) is printed as NOT
# REPRODUCED (lib/pq times some things in milliseconds), one it shows fails
# the script with both outputs.
#
# Usage: bash scripts/pq-suite.sh
# Time: 7.5 minutes measured on two cores shared with other work (load about
# 16): about 2 to compile the copy, then 1 to 1.5 for each of the four runs.
# Needs Go, the PostgreSQL server binaries (initdb, pg_ctl, postgres, psql;
# in PATH or under /usr/lib/postgresql/*/bin) and, for the first run, the Go
# module proxy (go mod tidy of the copy). As root the server runs as the
# postgres user, and the host names postgres and postgres-invalid (lib/pq's
# certificate tests) are mapped to 127.0.0.1 in /etc/hosts if they do not
# resolve, as lib/pq's CI does; otherwise those tests are skipped, and under
# CI=true that is an error.
#
# Environment:
#   PQSUITE_MODES    which runs: "plain tls" (default), "plain" or "tls"
#   PQSUITE_TIMEOUT  go test -timeout of each package run (default 3m)
#   PQSUITE_RACE     1: run with -race (slower)
#   PQSUITE_KEEP     1: keep the temporary directory (logs, results, the copy)
#   PQSUITE_VERBOSE  1: print the output of intended differences too
#
# Exit status: 0 only when both drivers gave the same results apart from the
# intended differences; 1 on any other difference, on a hang, when no test
# ran, on a setup failure.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
modes=${PQSUITE_MODES:-plain tls}
timeout=${PQSUITE_TIMEOUT:-3m}
ci=${CI:-}
say() { printf 'pq-suite: %s\n' "$*"; }
die() { printf 'pq-suite: FAIL: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Intended differences: mode (plain, tls or *) | test | result through
# postgres | result through lakebase | reason. Each is a deliberate design
# difference of lakebase (DESIGN.md, README); anything else is a bug.
# A name ending in * stands for every test it begins (a test's subtests).
intended_differences() {
  cat <<'EOF'
# A DSN that lakebase or lib/pq rejects is an error of sql.Open (lakebase's
# Driver implements driver.DriverContext: DESIGN.md "The DSN", driver.go),
# where lib/pq reports it at the first connection. These tests open with
# pqtest.DB, which fails the test on an error of sql.Open, and expect it from
# Ping: invalid min/max_protocol_version, client_encoding, datestyle, and a
# weak sslmode with sslrootcert=system.
plain | TestProtocolVersion       | pass | fail | DSN error reported by sql.Open, not by Ping (DriverContext)
plain | TestProtocolVersion/#07   | pass | fail | DSN error reported by sql.Open: min_protocol_version=3.9
plain | TestProtocolVersion/#08   | pass | fail | DSN error reported by sql.Open: max_protocol_version=3.9
plain | TestProtocolVersion/#09   | pass | fail | DSN error reported by sql.Open: min_protocol_version above max
plain | TestProtocolVersion/#10   | pass | fail | DSN error reported by sql.Open: min_protocol_version=latest above max=3.0
* | TestRuntimeParameters     | pass | fail | DSN error reported by sql.Open, not by Ping (DriverContext)
* | TestRuntimeParameters/#01 | pass | fail | DSN error reported by sql.Open: client_encoding=SQL_ASCII
* | TestRuntimeParameters/#02 | pass | fail | DSN error reported by sql.Open: datestyle='ISO, YDM'
* | TestSSLRootCA/#02         | pass | fail | DSN error reported by sql.Open: sslmode=verify-ca with sslrootcert=system
* | TestSSLRootCA/#03         | pass | fail | DSN error reported by sql.Open: sslmode=disable with sslrootcert=system
* | TestSSLRootCA/#04         | pass | fail | DSN error reported by sql.Open: sslmode=allow with sslrootcert=system
* | TestSSLMode/#23           | pass | fail | DSN error reported by sql.Open: sslmode=disable with sslnegotiation=direct
* | TestSSLMode/#24           | pass | fail | DSN error reported by sql.Open: sslmode=allow with sslnegotiation=direct
* | TestSSLMode/#25           | pass | fail | DSN error reported by sql.Open: sslmode=prefer with sslnegotiation=direct
* | TestSSLMode               | pass | fail | DSN errors at sql.Open and *lakebase.ConnectError (its subtests)
# A failed connect is a *lakebase.ConnectError naming the step, the target
# and the user, with the cause kept for errors.Is and errors.As (README
# "Errors", errors.go). These subtests check the cause's bare type with a
# type switch (pqtest.InvalidCertificate: x509.UnknownAuthorityError,
# x509.HostnameError, *tls.CertificateVerificationError); errors.As finds it.
* | TestSSLMode/#02           | pass | fail | connect error is *lakebase.ConnectError wrapping the x509 error (errors.As finds it)
* | TestSSLMode/#03           | pass | fail | connect error is *lakebase.ConnectError wrapping the x509 error (errors.As finds it)
* | TestSSLMode/#07           | pass | fail | connect error is *lakebase.ConnectError wrapping the x509 error (errors.As finds it)
* | TestSSLMode/#08           | pass | fail | connect error is *lakebase.ConnectError wrapping the x509 error (errors.As finds it)
* | TestSSLMode/#09           | pass | fail | connect error is *lakebase.ConnectError wrapping the x509 error (errors.As finds it)
* | TestSSLMode/#11           | pass | fail | connect error is *lakebase.ConnectError wrapping the x509 error (errors.As finds it)
# lakebase reads the root certificates once, in NewConnector, and fails it
# when the file holds no certificate (internal/pqsession/tls.go, NewTLS): the test's
# unparsable ~/.postgresql/root.crt is an error of sql.Open.
* | TestSSLDefaults           | pass | fail | an unparsable root.crt fails sql.Open (read in NewConnector: internal/pqsession/tls.go)
* | TestSSLDefaults/root.crt  | pass | fail | an unparsable root.crt fails sql.Open (read in NewConnector: internal/pqsession/tls.go)
# lakebase names one server: a host list is ErrInvalidDSN at sql.Open
# (dsn_syntax.go: "lists of hosts are not supported"; DESIGN.md's host key
# overrides the one looked-up host).
plain | TestConnectMulti*         | pass | fail | host lists are not supported: ErrInvalidDSN at sql.Open (dsn_syntax.go)
# lakebase runs TLS itself for sslmode require and verify-* (internal/pqsession/tls.go), with the
# system's roots from crypto/x509 for sslrootcert=system. The test swaps the
# system roots for its own CA through lib/pq's unexported testSystemRoots,
# which only lib/pq's TLS reads, so lakebase does not trust the test's
# server certificate.
* | TestSSLRootCA             | pass | fail | lakebase's own TLS (internal/pqsession) cannot see lib/pq's unexported testSystemRoots
* | TestSSLRootCA/#00         | pass | fail | lakebase's own TLS (internal/pqsession) cannot see lib/pq's unexported testSystemRoots
* | TestSSLRootCA/#01         | pass | fail | lakebase's own TLS (internal/pqsession) cannot see lib/pq's unexported testSystemRoots
# lib/pq#939: a connection that ends after a request was fully sent is a
# plain network error through lakebase, never driver.ErrBadConn, so that
# database/sql does not run the statement again (internal/pqsession/conn.go; issue 12's
# "a statement whose request was fully sent is never silently re-run").
# The test's fake server cuts a reply short and expects database/sql's retry.
plain | TestUnexpectedEOF         | pass | fail | no silent re-run of a statement already sent (lib/pq#939, internal/pqsession/conn.go)
EOF
}

# Tests left out of every run, for both drivers, with the reason.
exclusions() {
  cat <<'EOF'
Example_openConfig | connects with pq.NewConnectorConfig to a hard-coded localhost:5432 (lib/pq's CI server), not through the driver name; this server runs on a free port
# These seven start a pq.NewListener (not through the driver name; only the
# connection that sends NOTIFY is) and panic unless it reports an event within
# 100 ms, which ends the test binary. On a loaded machine they fail at random
# through either driver (measured: through postgres and through lakebase in
# turn, never the same one twice, and passing when run again alone).
TestListenerClose       | lib/pq's 100 ms listener deadline: flaky under load through either driver
TestListenerFailedQuery | lib/pq's 100 ms listener deadline: flaky under load through either driver
TestListenerListen      | lib/pq's 100 ms listener deadline: flaky under load through either driver
TestListenerPing        | lib/pq's 100 ms listener deadline: flaky under load through either driver
TestListenerReconnect   | lib/pq's 100 ms listener deadline: flaky under load through either driver
TestListenerUnlisten    | lib/pq's 100 ms listener deadline: flaky under load through either driver
TestListenerUnlistenAll | lib/pq's 100 ms listener deadline: flaky under load through either driver
EOF
}

# Tests left out of the TLS runs (PGSSLMODE=require), for both drivers, with
# the reason: each asserts something that only holds without TLS.
tls_exclusions() {
  cat <<'EOF'
TestConnectMulti                 | its fake servers (pqtest.NewFake) speak no TLS: fails through lib/pq itself
TestConnectionTargetSessionAttrs | its fake servers speak no TLS: through lib/pq itself two subtests hang
TestPreProtocolError             | its fake server speaks no TLS: fails through lib/pq itself
TestProtocolVersion              | its fake servers speak no TLS: fails through lib/pq itself
TestStartupParameters            | its fake server speaks no TLS: fails through lib/pq itself
TestUnexpectedEOF                | its fake server speaks no TLS: fails through lib/pq itself
TestService                      | compares configurations that say sslmode=disable (from PGSSLMODE): fails through lib/pq itself
TestNetworkError                 | pq.NewConnector with a dialer that fails the Nth network call, counted for plaintext: fails through lib/pq itself
EOF
}
# ---------------------------------------------------------------------------

start=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/pq-suite.XXXXXX")
keep=${PQSUITE_KEEP:-}
# shellcheck source=scripts/suite-lib.sh
. "$repo/scripts/suite-lib.sh"

# --- 1. lib/pq's source, pointed at $PQSUITE_DRIVER -------------------------
go mod download github.com/lib/pq
src=$(go list -m -f '{{.Dir}}' github.com/lib/pq)
version=$(go list -m -f '{{.Version}}' github.com/lib/pq)
[ -d "$src" ] || die "lib/pq $version is not in the module cache"
say "lib/pq $version (as go.mod pins it)"
pq="$work/pq"
cp -R "$src" "$pq"
chmod -R u+w "$pq"

# Every sql.Open("postgres", ...) of the tests (and of pqtest, which most
# tests open their connections through) takes the driver name from the
# environment; pqtest.Driver also records which tests call it.
cp scripts/pqsuite/overlay/pqtest_driver.go.txt "$pq/internal/pqtest/zz_pqsuite_driver.go"
sed -i 's/sql\.Open("postgres",/sql.Open(Driver(),/' "$pq/internal/pqtest/pqtest.go"
for f in $(grep -rl --include='*_test.go' 'sql\.Open("postgres",' "$pq"); do
  sed -i 's/sql\.Open("postgres",/sql.Open(pqtest.Driver(),/' "$f"
  if ! grep -q '"github.com/lib/pq/internal/pqtest"' "$f"; then
    sed -i '0,/^import (/s//import (\n\t"github.com\/lib\/pq\/internal\/pqtest"/' "$f"
  fi
done
if grep -rn --include='*.go' 'sql\.Open("postgres"' "$pq" | grep -v -e '^[^:]*:[0-9]*:\s*//' -e '/doc\.go:' -e '/oid/gen\.go:'; then
  die "an sql.Open(\"postgres\") is left after the rewrite: lib/pq's tests changed"
fi
# The packages whose tests open connections, each with lakebase registered
# in its test binary (an external test file: lakebase imports lib/pq).
packages=()
for d in $(grep -rl --include='*_test.go' -e 'pqtest\.\(Must\)\?DB(' -e 'pqtest\.Driver()' "$pq" | xargs -n1 dirname | sort -u); do
  name=$(grep -h '^package ' "$d"/*.go | grep -v '_test$' | head -1 | awk '{print $2}')
  [ -n "$name" ] || name=$(basename "$d")
  sed "s/PKG/$name/" scripts/pqsuite/overlay/lakebase_test.go.txt >"$d/zz_pqsuite_lakebase_test.go"
  rel=${d#"$pq"}
  packages+=(".$rel")
done
[ ${#packages[@]} -gt 0 ] || die "found no lib/pq test that opens a connection"
say "packages: ${packages[*]}"

# The copy requires lakebase from this repository; lakebase, built into the
# test binary, then uses the copy of lib/pq under test.
use_this_lakebase "$pq"
go build -o "$work/pqsuite" ./scripts/pqsuite

# --- 2. PostgreSQL as lib/pq's CI sets it up ---------------------------------
find_postgres
pgdir="$work/pg"
pgdata="$pgdir/data"
mkdir -p "$pgdir/ssl"
# The server's certificate, key and root CA from lib/pq's testdata/ssl, as
# its compose setup (testdata/postgres/entry.sh) copies them.
cp "$pq/testdata/ssl/server.crt" "$pq/testdata/ssl/server.key" "$pq/testdata/ssl/root.crt" "$pgdir/ssl/"
chmod 600 "$pgdir/ssl/"*
[ -z "$server_user" ] || chown -R "$server_user" "$pgdir"
# The superuser and its database are pqgo, as POSTGRES_USER=pqgo makes them.
as_server "$bindir/initdb" -D "$pgdata" -U pqgo --auth=trust -E UTF8 --locale=C.UTF-8 >"$work/initdb.log" 2>&1 ||
  as_server "$bindir/initdb" -D "$pgdata" -U pqgo --auth=trust -E UTF8 --no-locale >"$work/initdb.log" 2>&1 ||
  { cat "$work/initdb.log" >&2; die "initdb failed"; }
cp "$pq/testdata/postgres/pg_hba.conf" "$pgdata/pg_hba.conf"
[ -z "$server_user" ] || chown "$server_user" "$pgdata/pg_hba.conf"
start_postgres "-c ssl_ca_file=$pgdir/ssl/root.crt -c ssl_cert_file=$pgdir/ssl/server.crt -c ssl_key_file=$pgdir/ssl/server.key"
# lib/pq's init SQL (testdata/postgres/docker-entrypoint-initdb.d), but for
# its ALTER SYSTEMs, which the -c settings above replace with this directory's
# paths.
grep -hvi '^alter system' "$pq"/testdata/postgres/docker-entrypoint-initdb.d/*.sql >"$work/init.sql"
{ "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$pgdir" -p "$port" -U pqgo -d postgres -c 'create database pqgo' &&
  "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$pgdir" -p "$port" -U pqgo -d pqgo -f "$work/init.sql"; } >"$work/init.log" 2>&1 ||
  { cat "$work/init.log" >&2; die "lib/pq's init SQL failed"; }
say "server on 127.0.0.1:$port (ssl on, lib/pq's pg_hba.conf and roles)"

# lib/pq's certificate tests connect to the host names postgres and
# postgres-invalid, which its CI maps to 127.0.0.1 in /etc/hosts.
hostskip=
unresolved=()
for h in postgres postgres-invalid; do
  getent hosts "$h" >/dev/null 2>&1 || unresolved+=("$h")
done
if [ ${#unresolved[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && [ -w /etc/hosts ]; then
    echo "127.0.0.1 ${unresolved[*]} # lib/pq's test host names, added by lakebase scripts/pq-suite.sh" >>/etc/hosts
    say "added '127.0.0.1 ${unresolved[*]}' to /etc/hosts, as lib/pq's CI does (left in place)"
  elif [ "$ci" = true ]; then
    die "the host names ${unresolved[*]} do not resolve and /etc/hosts is not writable: lib/pq's certificate tests cannot run"
  else
    # The tests that connect to host=postgres or host=postgres-invalid.
    hostskip='^(TestSSLMode|TestSSLSNI|TestSSLDefaults|TestSSLRootCA|ExampleNewConnector|ExampleRegisterTLSConfig)$'
    say "SKIPPED: the certificate tests ($hostskip): host names ${unresolved[*]} do not resolve (map them to 127.0.0.1 in /etc/hosts, or run as root)"
  fi
fi

# --- 3. the runs ---------------------------------------------------------------
intended_differences >"$work/expect.txt"
tls_exclusions >"$work/tls-exclusions.txt"
exclusions >"$work/exclusions.txt"
skip_pattern() { # file: a -skip pattern of its first column
  local names
  names=$(grep -v '^\s*#' "$1" | grep -v '^\s*$' | cut -d'|' -f1 | tr -d ' ' | paste -sd'|' || true)
  [ -z "$names" ] || printf '^(%s)$' "$names"
}
tlsskip=$(skip_pattern "$work/tls-exclusions.txt")
allskip=$(skip_pattern "$work/exclusions.txt")

# The environment of a run: only what lib/pq's CI sets, and what selects the
# driver. A PG*, LAKEBASE_* or DATABRICKS_* variable of the caller's would
# change what the suite tests.
clean_env=()
while IFS= read -r name; do
  case "$name" in PG* | LAKEBASE_* | DATABRICKS_*) clean_env+=(-u "$name") ;; esac
done < <(compgen -e)
race=()
[ "${PQSUITE_RACE:-}" = 1 ] && race=(-race)

run() { # mode driver sslmode skip [name run-pattern [pqsuite-flag]]
  local mode=$1 driver=$2 sslmode=$3 skipre=$4 name=${5:-$1} runre=${6:-} flag=${7:--parallel=0} uses=
  if [ -z "$runre" ]; then
    [ "$driver" = lakebase ] && uses="$work/uses-$mode.txt"
    : >"$work/uses-$mode.txt"
    say "run: $mode, through $driver (PGSSLMODE=$sslmode)"
  else
    say "rerun alone, through $driver: $runre"
  fi
  env "${clean_env[@]}" PQSUITE_DRIVER="$driver" PQSUITE_USES="$uses" \
    PGHOST=localhost PGPORT="$port" PGUSER=pqgo PGDATABASE=pqgo PGSSLMODE="$sslmode" \
    LAKEBASE_AUTH=password PQTEST_BINARY_PARAMETERS=no \
    "$work/pqsuite" run "${race[@]}" "$flag" -dir "$pq" -out "$work/$name-$driver.json" -log "$work/$name-$driver.jsonl" \
    -timeout "$timeout" -skip "$skipre" -run "$runre" "${packages[@]}" ||
    die "the $mode run through $driver did not complete"
}

status=0
for mode in $modes; do
  case "$mode" in
    plain) sslmode=disable skipre=$allskip${hostskip:+|$hostskip} ;;
    tls) sslmode=require skipre=$allskip${hostskip:+|$hostskip}${tlsskip:+|$tlsskip} ;;
    *) die "unknown mode $mode in PQSUITE_MODES" ;;
  esac
  run "$mode" postgres "$sslmode" "$skipre"
  run "$mode" lakebase "$sslmode" "$skipre"
  # A test that differs unexpectedly runs again alone through both drivers:
  # lib/pq has tests that time things in milliseconds (a listener must
  # connect within 100ms), which a loaded machine can fail in either run.
  rerun=()
  "$work/pqsuite" compare -a "$work/$mode-postgres.json" -b "$work/$mode-lakebase.json" \
    -expect "$work/expect.txt" -mode "$mode" -list "$work/rerun-$mode.txt"
  if [ -s "$work/rerun-$mode.txt" ]; then
    runre=$(cat "$work/rerun-$mode.txt")
    run "$mode" postgres "$sslmode" "$skipre" "rerun-$mode" "$runre" -parallel=1
    run "$mode" lakebase "$sslmode" "$skipre" "rerun-$mode" "$runre" -parallel=1
    rerun=(-a2 "$work/rerun-$mode-postgres.json" -b2 "$work/rerun-$mode-lakebase.json")
  fi
  echo
  say "== $mode (PGSSLMODE=$sslmode): per-test results, postgres vs lakebase"
  say "   excluded from both runs (for both drivers), with the reason:"
  { grep -v -e '^\s*#' -e '^\s*$' "$work/exclusions.txt"
    [ "$mode" = tls ] && grep -v -e '^\s*#' -e '^\s*$' "$work/tls-exclusions.txt"
    [ -z "$hostskip" ] || echo "$hostskip | the host names postgres and postgres-invalid do not resolve"
  } | sed 's/^/     /'

  verbose=()
  [ "${PQSUITE_VERBOSE:-}" = 1 ] && verbose=(-v)
  "$work/pqsuite" compare -a "$work/$mode-postgres.json" -b "$work/$mode-lakebase.json" \
    -expect "$work/expect.txt" -mode "$mode" -uses "$work/uses-$mode.txt" "${rerun[@]}" "${verbose[@]}" || status=1
  echo
done
say "took $(($(date +%s) - start))s"
if [ $status -ne 0 ]; then
  say "FAIL: lakebase and lib/pq differ (above)"
  exit 1
fi
say "ok: identical apart from the intended differences"
