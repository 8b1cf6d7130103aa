#!/usr/bin/env bash
# Runs every fuzz target briefly, for CI: FUZZTIME each (default 10s), after
# the committed seed corpus under testdata/fuzz/. A failure leaves the input
# that broke the target in testdata/fuzz/<target>/; commit it with the fix.
# For a long run of one target:
#   go test -run='^$' -fuzz='^FuzzParseDSN$' -fuzztime=5m .
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-10s}"

run() { # package target
  echo "fuzz $2 ($1) for $fuzztime"
  go test -run='^$' -fuzz="^$2\$" -fuzztime="$fuzztime" "$1"
}

run . FuzzParseDSN
run ./internal/controlplane FuzzParseExpiry
