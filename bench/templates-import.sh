#!/usr/bin/env bash
# Atomic Red Team import figure (issue 6): the whole shared sample
# (../shared/testdata/atomics: 13 files, 236 tests) imported into a fresh,
# migrated database, median of 5 runs (goal <= 1 s):
# 1. the CLI on SQLite: `purplebook templates import-atomics DIR` into a new
#    data dir per run — wall time of the process, and the import's own
#    duration_ms from its JSON report (read, parse, one transaction);
# 2. BenchmarkImportAtomicsSample (app/templates) on SQLite and, when
#    PURPLEBOOK_TEST_PG_DSN is set, on PostgreSQL: the import alone, fresh
#    database per iteration.
# Usage: bench/templates-import.sh [path/to/purplebook]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bin=${1:-bin/purplebook}
[ -x "$bin" ] || { echo "build first: make build" >&2; exit 1; }
atomics=../shared/testdata/atomics
runs=${RUNS:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

wall=(); own=()
for i in $(seq $runs); do
  d="$tmp/run$i"
  "$bin" migrate --data-dir "$d" up >/dev/null 2>&1
  /usr/bin/time -f '%e' -o "$tmp/time" "$bin" templates import-atomics --data-dir "$d" --json "$atomics" >"$tmp/report.json" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
  wall+=("$(cat "$tmp/time")")
  own+=("$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["created"]==236, r["created"]; print(r["duration_ms"])' "$tmp/report.json")")
done
mw=$(median "${wall[@]}"); mo=$(median "${own[@]}")
awk -v w="$mw" -v o="$mo" -v n="$runs" 'BEGIN {
  printf "Atomic sample import (13 files, 236 tests), CLI on SQLite, fresh data dir: median %.0f ms import (duration_ms), %.2f s process wall time, over %d runs (goal <= 1 s)\n", o, w, n }'

bench() { go test "$@" -run '^$' -bench '^BenchmarkImportAtomicsSample$' -benchtime ${runs}x -count 1 ./app/templates | awk '/^BenchmarkImportAtomicsSample/ {for (i=1;i<=NF;i++) if ($(i+1)=="ms-median") print $i}'; }
bench_line atomics_import_cli_ms "$mo" ms "<=1000" "" "Atomic sample import (236 tests), CLI on SQLite, duration_ms"
echo "BenchmarkImportAtomicsSample, median of $runs fresh databases:"
sq=$(bench)
echo "  sqlite:     $sq ms"
[ -n "$sq" ] && bench_line atomics_import_sqlite_ms "$sq" ms "<=1000" "" "Atomic sample import, service alone (SQLite)"
# Never start a cluster here: scripts/pg-test-server.sh start wipes the one
# that may be serving other test runs.
if [ -n "${PURPLEBOOK_TEST_PG_DSN:-}" ]; then
  pq=$(bench -tags postgres)
  echo "  postgresql: $pq ms"
  [ -n "$pq" ] && bench_line atomics_import_postgres_ms "$pq" ms "<=1000" "" "Atomic sample import, service alone (PostgreSQL)"
else
  echo "  postgresql: skipped (set PURPLEBOOK_TEST_PG_DSN, e.g. from scripts/pg-test-server.sh start)"
fi
