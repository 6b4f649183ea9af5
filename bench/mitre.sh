#!/usr/bin/env bash
# ATT&CK catalogue figures (issues 5 and 15):
# 1. full enterprise bundle (45 MB, 24,771 objects) synced from a local file
#    with the CLI into a migrated, empty data dir: median of $RUNS runs and
#    peak RSS, beside the parse floor `python3 json.load(gzip.open(F))`;
# 2. GET /api/v1/mitre/techniques?q=proc with a valid token under
#    `wrk -t2 -c50` (loopback): req/s, p50, p99, beside a bare net/http
#    handler (bench/bare) serving the same bytes, and the ratio.
# Env: RUNS (default 5), DURATION (wrk seconds, default 10), READ_ONLY=1
# (skip the sync medians: one sync, then the read figures), PROFILE=FILE
# (serve through bench/serveprof and write the CPU profile of the measured
# wrk run to FILE; read it with `go tool pprof -top FILE`; SERVEPROF=path
# takes a prebuilt bench/serveprof, e.g. of another commit).
# Usage: bench/mitre.sh [path/to/purplebook]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bin=${1:-bin/purplebook}
[ -x "$bin" ] || { echo "build first: make build" >&2; exit 1; }
command -v wrk >/dev/null || { echo "mitre.sh: wrk is not installed (Debian: apt-get install wrk)" >&2; exit 1; }
full=../shared/testdata/attack/enterprise-attack.json.gz
sha=6efa25666ac16af7c36ba175635c82e670e5843be5eb61348ec41df0f38ada5f
runs=${RUNS:-5}
dur=${DURATION:-10}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT

sync_into() {
  "$bin" migrate --data-dir "$1" up >/dev/null 2>&1
  /usr/bin/time -f '%e %M' -o "$tmp/time" "$bin" mitre sync --data-dir "$1" --source "$full" --sha256 "$sha" --version 18.1 >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
}

if [ -z "${READ_ONLY:-}" ]; then
  secs=(); rss=()
  for i in $(seq "$runs"); do
    sync_into "$tmp/sync$i"
    read -r s m <"$tmp/time"
    secs+=("$s"); rss+=("$m")
  done
  py=()
  for i in $(seq "$runs"); do
    py+=("$( { /usr/bin/time -f '%e' python3 -c "import json,gzip; json.load(gzip.open('$full'))" ; } 2>&1 )")
  done
  ms=$(median "${secs[@]}"); mr=$(median "${rss[@]}"); mp=$(median "${py[@]}")
  awk -v s="$ms" -v r="$mr" -v p="$mp" -v n="$runs" 'BEGIN {
    printf "full bundle sync (CLI, local file, sha256-verified): median %.2f s over %d runs (goal <= 1.5 s), peak RSS median %.0f MB (goal <= 150 MB)\n", s, n, r/1024
    printf "parse floor python3 json.load(gzip.open(F)): median %.2f s; ratio sync/floor %.2fx\n", p, s/p }'
  bench_line mitre_sync "$ms" s "<=1.5" "$mp" "full ATT&CK sync (45 MB)" "python json.load"
  bench_line mitre_sync_rss "$(awk -v r="$mr" 'BEGIN {printf "%.1f", r/1024}')" MB "<=150" "" "full ATT&CK sync peak RSS"
else
  sync_into "$tmp/sync1"
fi

# Read API under load.
port=$(free_port)
d="$tmp/sync1"
if [ -n "${PROFILE:-}" ]; then
  sp=${SERVEPROF:-}
  [ -n "$sp" ] || { go build -o "$tmp/serveprof" ./bench/serveprof; sp=$tmp/serveprof; }
  "$sp" -cpuprofile "$PROFILE" serve --data-dir "$d" --listen "127.0.0.1:$port" --log-level error >"$tmp/serve.out" 2>&1 &
else
  "$bin" serve --data-dir "$d" --listen "127.0.0.1:$port" --log-level error >"$tmp/serve.out" 2>&1 &
fi
server=$!
until curl -fsS -o /dev/null "http://127.0.0.1:$port/api/v1/health" 2>/dev/null; do
  kill -0 "$server" 2>/dev/null || { cat "$tmp/serve.out"; exit 1; }
  sleep 0.05
done
printf 'bench-password-123\n' | "$bin" user create-admin --data-dir "$d" --email bench@example.com --name Bench >/dev/null 2>&1 || true
token=$(curl -fsS -H 'Content-Type: application/json' -d '{"email":"bench@example.com","password":"bench-password-123"}' \
  "http://127.0.0.1:$port/api/v1/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
url="http://127.0.0.1:$port/api/v1/mitre/techniques?q=proc"
curl -fsS -H "Authorization: Bearer $token" "$url" >"$tmp/body.json"
wrk -t2 -c50 -d2s -H "Authorization: Bearer $token" "$url" >/dev/null 2>&1 || true # warm up
wrk -t2 -c50 -d"${dur}s" --latency -H "Authorization: Bearer $token" "$url" >"$tmp/wrk-api.txt"
if [ -n "${PROFILE:-}" ]; then
  kill -TERM "$server"; wait "$server" 2>/dev/null || true
  echo "CPU profile of the server during the run: $PROFILE (go tool pprof -top $PROFILE)"
else
  kill -TERM "$server"; wait "$server" 2>/dev/null || true
fi

go build -o "$tmp/bare" ./bench/bare
"$tmp/bare" -listen "127.0.0.1:0" -body "$tmp/body.json" >"$tmp/bare.addr" 2>&1 &
for _ in $(seq 100); do [ -s "$tmp/bare.addr" ] && break; sleep 0.05; done
bare="http://$(head -n1 "$tmp/bare.addr")/"
wrk -t2 -c50 -d2s "$bare" >/dev/null 2>&1 || true
wrk -t2 -c50 -d"${dur}s" --latency "$bare" >"$tmp/wrk-bare.txt"

a=$(wrk_rps "$tmp/wrk-api.txt"); b=$(wrk_rps "$tmp/wrk-bare.txt")
a50=$(wrk_ms "$tmp/wrk-api.txt" 50); a99=$(wrk_ms "$tmp/wrk-api.txt" 99)
b50=$(wrk_ms "$tmp/wrk-bare.txt" 50); b99=$(wrk_ms "$tmp/wrk-bare.txt" 99)
errs=$(wrk_errors "$tmp/wrk-api.txt")
echo "GET /api/v1/mitre/techniques?q=proc ($(wc -c <"$tmp/body.json") bytes), wrk -t2 -c50 ${dur} s:"
echo "  purplebook: $a req/s, p50 $a50 ms, p99 $a99 ms, $errs errors (goal >= 10000 req/s, p99 <= 10 ms)"
echo "  bare net/http, same bytes: $b req/s, p50 $b50 ms, p99 $b99 ms"
ratio=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a/b}')
echo "  ratio purplebook/bare: $ratio (goal >= 0.50)"
bench_line mitre_q_rps "$a" req/s ">=10000" "$b" "GET /mitre/techniques?q=proc, wrk -t2 -c50" "bare net/http"
bench_line mitre_q_p50 "$a50" ms "" "$b50" "GET /mitre/techniques?q=proc p50" "bare net/http"
bench_line mitre_q_p99 "$a99" ms "<=10" "$b99" "GET /mitre/techniques?q=proc p99" "bare net/http"
bench_line mitre_q_bare_ratio "$ratio" x ">=0.5" "" "GET /mitre/techniques?q=proc req/s ÷ bare net/http"
bench_line mitre_q_errors "$errs" count "=0" "" "GET /mitre/techniques?q=proc errors"
