#!/usr/bin/env bash
# ATT&CK catalogue figures (issue 5):
# 1. full enterprise bundle (45 MB, 24,771 objects) synced from a local file
#    with the CLI into a migrated, empty data dir: median of 5 runs and peak
#    RSS, beside the parse floor `python3 json.load(gzip.open(F))` and the ratio;
# 2. GET /api/v1/mitre/techniques?q=proc with a valid token under wrk
#    (50 connections, loopback), beside a bare net/http handler returning the
#    same bytes, and the ratio.
# Usage: bench/mitre.sh [path/to/purplebook]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-bin/purplebook}
[ -x "$bin" ] || { echo "build first: make build" >&2; exit 1; }
full=../shared/testdata/attack/enterprise-attack.json.gz
sha=6efa25666ac16af7c36ba175635c82e670e5843be5eb61348ec41df0f38ada5f
runs=5
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

secs=(); rss=()
for i in $(seq $runs); do
  d="$tmp/sync$i"
  "$bin" migrate --data-dir "$d" up >/dev/null 2>&1
  /usr/bin/time -f '%e %M' -o "$tmp/time" "$bin" mitre sync --data-dir "$d" --source "$full" --sha256 "$sha" --version 18.1 >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
  read -r s m <"$tmp/time"
  secs+=("$s"); rss+=("$m")
done
py=()
for i in $(seq $runs); do
  s=$( { /usr/bin/time -f '%e' python3 -c "import json,gzip; json.load(gzip.open('$full'))" ; } 2>&1 )
  py+=("$s")
done
ms=$(median "${secs[@]}"); mr=$(median "${rss[@]}"); mp=$(median "${py[@]}")
awk -v s="$ms" -v r="$mr" -v p="$mp" -v n="$runs" 'BEGIN {
  printf "full bundle sync (CLI, local file, sha256-verified): median %.2f s over %d runs (goal <= 1.5 s), peak RSS median %.0f MB (goal <= 150 MB)\n", s, n, r/1024
  printf "parse floor python3 json.load(gzip.open(F)): median %.2f s; ratio sync/floor %.2fx\n", p, s/p }'

# Read API under load.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
d="$tmp/sync1"
"$bin" serve --data-dir "$d" --listen "127.0.0.1:$port" --log-level error >"$tmp/serve.out" 2>&1 &
until curl -fsS -o /dev/null "http://127.0.0.1:$port/api/v1/health" 2>/dev/null; do sleep 0.05; done
printf 'bench-password-123\n' | "$bin" user create-admin --data-dir "$d" --email bench@example.com --name Bench >/dev/null 2>&1 || true
token=$(curl -fsS -H 'Content-Type: application/json' -d '{"email":"bench@example.com","password":"bench-password-123"}' \
  "http://127.0.0.1:$port/api/v1/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
url="http://127.0.0.1:$port/api/v1/mitre/techniques?q=proc"
curl -fsS -H "Authorization: Bearer $token" "$url" >"$tmp/body.json"
wrk -t2 -c50 -d2s -H "Authorization: Bearer $token" "$url" >/dev/null 2>&1 || true # warm up
wrk -t2 -c50 -d10s --latency -H "Authorization: Bearer $token" "$url" >"$tmp/wrk-api.txt"
go run ./bench/bare -listen "127.0.0.1:0" -body "$tmp/body.json" >"$tmp/bare.addr" 2>&1 &
for _ in $(seq 100); do [ -s "$tmp/bare.addr" ] && break; sleep 0.1; done
bare="http://$(head -n1 "$tmp/bare.addr")/"
wrk -t2 -c50 -d2s "$bare" >/dev/null 2>&1 || true
wrk -t2 -c50 -d10s --latency "$bare" >"$tmp/wrk-bare.txt"
rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
p99() { awk '$1=="99%" {print $2}' "$1"; }
a=$(rps "$tmp/wrk-api.txt"); b=$(rps "$tmp/wrk-bare.txt")
echo "GET /api/v1/mitre/techniques?q=proc ($(wc -c <"$tmp/body.json") bytes), wrk 50 connections 10 s:"
echo "  purplebook: $a req/s, p99 $(p99 "$tmp/wrk-api.txt") (goal >= 10000 req/s, p99 <= 10 ms)"
echo "  bare net/http, same bytes: $b req/s, p99 $(p99 "$tmp/wrk-bare.txt")"
awk -v a="$a" -v b="$b" 'BEGIN {printf "  ratio purplebook/bare: %.2f\n", a/b}'
