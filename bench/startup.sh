#!/usr/bin/env bash
# Foundation figures: cold start on an empty data dir (migrations included)
# until GET /api/v1/health answers 200 (median of N runs), idle RSS after
# start, binary size. Usage: bench/startup.sh [path/to/purplebook] [runs]
set -euo pipefail
bin=${1:-bin/purplebook}
runs=${2:-15}
[ -x "$bin" ] || { echo "build first: make build" >&2; exit 1; }
. "$(dirname "$0")/lib.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

times=()
rss_kb=()
for i in $(seq "$runs"); do
  dir=$(mktemp -d)
  port=$(free_port)
  start=$(date +%s%N)
  "$bin" serve --data-dir "$dir" --listen "127.0.0.1:$port" --log-format json >/dev/null 2>"$dir/log" &
  pid=$!
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/api/v1/health" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then echo "server died:"; cat "$dir/log"; exit 1; fi
    sleep 0.002
  done
  end=$(date +%s%N)
  times+=($(( (end - start) / 1000 )))
  sleep 1 # let it settle: idle RSS
  rss_kb+=($(awk '/^VmRSS/ {print $2}' "/proc/$pid/status"))
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ms=$(median "${times[@]}")
rss=$(median "${rss_kb[@]}")
size=$(stat -c %s "$bin")
awk -v us="$ms" -v n="$runs" 'BEGIN {printf "cold start to health 200 (empty data dir, migrations included): median %.1f ms over %d runs (goal <= 300 ms)\n", us/1000, n}'
awk -v kb="$rss" 'BEGIN {printf "idle RSS after start: median %.1f MB (goal <= 40 MB)\n", kb/1024}'
awk -v b="$size" 'BEGIN {printf "binary size: %.1f MB (goal <= 40 MB)\n", b/1048576}'
bench_line startup_health_ms "$(awk -v us="$ms" 'BEGIN {printf "%.1f", us/1000}')" ms "<=300" "" "cold start to health 200 (median of $runs)"
bench_line startup_idle_rss_mb "$(awk -v kb="$rss" 'BEGIN {printf "%.1f", kb/1024}')" MB "<=40" "" "idle RSS after start"
bench_line binary_size_mb "$(awk -v b="$size" 'BEGIN {printf "%.1f", b/1048576}')" MB "<=40" "" "binary size"
