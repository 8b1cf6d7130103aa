# What the peer-suite scripts (pq-suite.sh, pgxpool-suite.sh) share: the
# temporary directory's cleanup, running as the server's owner, finding
# PostgreSQL's binaries, and pointing a module copy at this repository.
# Sourced after the script has set say, die, repo, work and keep (1: keep
# $work when done).

pgctl=
pgdata=
server_user=

cleanup() {
  local rc=$?
  if [ -n "$pgdata" ] && [ -f "$pgdata/postmaster.pid" ]; then
    as_server "$pgctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true
  fi
  if [ "$keep" = 1 ]; then
    say "kept $work"
  else
    rm -rf "$work"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

as_server() { # run a command as the server's owner
  if [ -n "$server_user" ]; then
    runuser -u "$server_user" -- "$@"
  else
    "$@"
  fi
}

# find_postgres sets bindir and pgctl to PostgreSQL's server binaries, in
# PATH or the newest /usr/lib/postgresql/*/bin, and, as root, server_user
# to the postgres account that runs them (initdb refuses root).
find_postgres() {
  bindir=
  if command -v initdb >/dev/null 2>&1; then
    bindir=$(dirname "$(readlink -f "$(command -v initdb)")")
  else
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n | tail -1 || true)
  fi
  for b in initdb pg_ctl postgres psql; do
    [ -x "$bindir/$b" ] || die "PostgreSQL server binaries not found (initdb, pg_ctl, postgres, psql in PATH or /usr/lib/postgresql/*/bin)"
  done
  pgctl="$bindir/pg_ctl"
  say "PostgreSQL: $("$bindir/postgres" --version)"
  chmod 755 "$work"
  if [ "$(id -u)" = 0 ]; then
    server_user=postgres
    id "$server_user" >/dev/null 2>&1 || die "running as root needs a postgres user to run the server as"
  fi
}

# use_this_lakebase makes the module copy in directory $1 require lakebase
# from this repository, so that the copy's tests build against it.
use_this_lakebase() {
  (
    cd "$1"
    go mod edit -go="$(cd "$repo" && go list -m -f '{{.GoVersion}}')" \
      -require=github.com/lakebase-go/lakebase@v0.0.0 \
      -replace=github.com/lakebase-go/lakebase="$repo"
    cat "$repo/go.sum" >>go.sum
    go mod tidy
  ) || die "could not resolve the copy's modules (go mod tidy)"
}

# start_postgres starts the server in $pgdata on a free port of 127.0.0.1,
# with TLS as the settings given ("-c ssl_cert_file=..." and so on) say, its
# socket in $pgdir, and sets port. A port taken meanwhile is tried again.
start_postgres() {
  port=
  for attempt in 1 2 3 4; do
    port=$("$work/pqsuite" freeport)
    if as_server "$pgctl" -D "$pgdata" -l "$pgdir/postgres.log" -w -t 60 -o "-c listen_addresses=127.0.0.1 -p $port \
        -c unix_socket_directories=$pgdir -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
        -c max_connections=200 -c shared_buffers=32MB -c ssl=on $*" start >"$work/pg_ctl.log" 2>&1; then
      return 0
    fi
    grep -q 'could not bind' "$pgdir/postgres.log" 2>/dev/null && [ $attempt -lt 4 ] && continue
    cat "$work/pg_ctl.log" "$pgdir/postgres.log" >&2 || true
    die "PostgreSQL did not start"
  done
}
