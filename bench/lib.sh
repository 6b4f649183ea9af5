# Helpers shared by the bench scripts (sourced, not run).
#
# Every figure a bench measures is printed once as a machine-readable line
# that bench/report collects into the closing table of `make bench`:
#
#   BENCH name=<id> value=<number> unit=<unit> [goal=<op><number>] [floor=<number>] [label="<text>"] [floor_label="<text>"]
#
# bench/README.md describes the fields. bench_line prints one.

# bench_line NAME VALUE UNIT [GOAL] [FLOOR] [LABEL] [FLOOR_LABEL]
bench_line() {
  local s="BENCH name=$1 value=$2 unit=$3"
  [ -n "${4:-}" ] && s+=" goal=$4"
  [ -n "${5:-}" ] && s+=" floor=$5"
  [ -n "${6:-}" ] && s+=" label=\"$6\""
  [ -n "${7:-}" ] && s+=" floor_label=\"$7\""
  echo "$s"
}

# median N1 N2 …
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# wrk_ms FILE PERCENT: a latency percentile of `wrk --latency` output, in ms.
wrk_ms() {
  awk -v p="$2%" '$1==p {
    v=$2; u=v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
    if (u=="us") v/=1000; else if (u=="s") v*=1000; else if (u=="m") v*=60000
    printf "%.3f\n", v }' "$1"
}

# wrk_rps FILE: requests per second of wrk output.
wrk_rps() { awk '/Requests\/sec/ {printf "%.0f\n", $2}' "$1"; }

# wrk_errors FILE: non-2xx/3xx responses plus socket errors of wrk output.
wrk_errors() {
  awk '/Non-2xx or 3xx responses/ {n+=$NF} /Socket errors/ {for (i=1;i<=NF;i++) if ($i ~ /^[0-9]+,?$/) n+=$i+0} END {print n+0}' "$1"
}
