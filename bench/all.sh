#!/usr/bin/env bash
# `make bench`: every bench under bench/, one after the other, then one
# table of every figure (bench/report): figure, goal, measured, floor, ratio,
# met / not met. A bench that fails is a row of the table ("did not
# finish"); the script itself always exits 0 once the binaries are built.
#
# BENCH_QUICK=1: small sizes and short runs, a few minutes in all, to check
# that every bench runs and prints. Its figures are not the ones to quote.
# PostgreSQL: $PURPLEBOOK_TEST_PG_DSN, else a throwaway cluster of its own
# (scripts/pg-test-server.sh with PB_PG_DIR=/tmp/purplebook-pg-bench,
# PB_PG_PORT=55434), stopped at the end. SOAK (default 2m; 10s quick) is the
# hotreads soak, N (default 20; 2 quick) the kills per fault scenario.
# Logs: bin/bench/<bench>.log; the table also goes to bin/bench/table.md.
# Usage: bench/all.sh   (or make bench / BENCH_QUICK=1 make bench)
set -uo pipefail
cd "$(dirname "$0")/.."
out=bin/bench
rm -rf "$out"
mkdir -p "$out"
quick=${BENCH_QUICK:-}
[ "$quick" = 0 ] && quick=
q() { if [ -n "$quick" ]; then echo "$1"; else echo "$2"; fi; }

set -e
CGO_ENABLED=0 go build -trimpath -o bin/purplebook .
go build -o bin/bare ./bench/bare
go build -tags postgres -o "$out/templatefilter" ./bench/templatefilter
go build -tags postgres -o "$out/missionload" ./bench/missionload
go build -o "$out/report" ./bench/report
set +e

pgdir=/tmp/purplebook-pg-bench
pg=${PURPLEBOOK_TEST_PG_DSN:-}
if [ -z "$pg" ]; then
  if pg=$(PB_PG_DIR=$pgdir PB_PG_PORT=55434 scripts/pg-test-server.sh start 2>"$out/pg-start.log"); then
    trap 'PB_PG_DIR=$pgdir scripts/pg-test-server.sh stop' EXIT
    echo "PostgreSQL: a throwaway cluster on port 55434"
  else
    pg=
    echo "PostgreSQL: no cluster could be started ($out/pg-start.log): its figures are skipped"
  fi
fi
export PURPLEBOOK_TEST_PG_DSN=$pg
pgflag=()
[ -n "$pg" ] && pgflag=(-pg "$pg")

# run NAME COMMAND…: runs one bench, its output on the terminal and in
# $out/NAME.log; a failure (or a run past the time limit) is recorded.
limit=$(q 600 7200)
logs=()
run() {
  local name=$1
  shift
  echo
  echo "=== $name: $*"
  local t0=$SECONDS
  logs+=("$out/$name.log")
  timeout "$limit" "$@" 2>&1 | tee "$out/$name.log"
  local rc=${PIPESTATUS[0]}
  echo "=== $name: exit $rc after $((SECONDS - t0)) s"
  [ "$rc" = 0 ] || echo "BENCH_FAILED name=$name rc=$rc" >>"$out/$name.log"
}

run startup bash bench/startup.sh bin/purplebook "$(q 3 15)"
if [ -n "$pg" ]; then
  run db-backends bash bench/db-backends.sh -rows "$(q 2000 10000)" -runs "$(q 1 5)"
fi
run mitre env RUNS="$(q 1 5)" DURATION="$(q 3 10)" bash bench/mitre.sh bin/purplebook
run auth env COUNT="$(q 1 5)" BENCHTIME="$(q 200ms 1s)" bash bench/auth.sh
run templates-import env RUNS="$(q 1 5)" bash bench/templates-import.sh bin/purplebook
run templatefilter "$out/templatefilter" -templates "$(q 2000 10000)" -runs "$(q 1 5)" "${pgflag[@]}"
run missionload "$out/missionload" -tests 2000 -duration "$(q 3s 10s)" -runs "$(q 20 100)" "${pgflag[@]}"
run bundles go run ./bench/bundles -bin bin/purplebook -evidence-mb "$(q 32 1024)"
run backup go run ./bench/backup -bin bin/purplebook -tests "$(q 200 2000)" -evidence-mb "$(q 32 1024)"
run results go run ./bench/results -missions "$(q 50 500)" -total "$(q 20000 1000000)" -runs "$(q 3 15)"
run hotreads bash bench/hotreads.sh "${SOAK:-$(q 10s 2m)}" "$(q 2s 10s)"
run faults bash bench/faults.sh "${N:-$(q 2 20)}"

echo
echo "=== figures$([ -n "$quick" ] && echo " (BENCH_QUICK: a check that the benches run, not figures to quote)")"
"$out/report" "${logs[@]}" | tee "$out/table.md"
exit 0
