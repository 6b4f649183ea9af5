#!/usr/bin/env bash
# Accounts-and-access figures (issue 4), medians of $COUNT runs (default 5;
# BENCHTIME, default 1s, is the -benchtime of the per-request benchmarks):
# 1. login cost: one argon2id verification with DefaultArgon2 (goal 50–250 ms
#    on a 2-core machine) and a whole password login through the service;
# 2. per-request cost of authentication + permission check: GET of a
#    permission-gated route through the real router (httptest) with an
#    access token, beside GET /api/v1/health (public, no authentication) as
#    the baseline; the difference is the guard (goal <= 50 µs). Also with a
#    narrowed pbk_ API token, and with a principal-cache miss on every
#    request (the database lookups, as after a permission change).
# Runs on SQLite; PURPLEBOOK_TEST_PG_DSN plus BENCH_TAGS=postgres uses PostgreSQL.
# Usage: bench/auth.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
count=${COUNT:-5}
benchtime=${BENCHTIME:-1s}
tags=${BENCH_TAGS:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() { go test -tags "$tags" -run '^$' -count "$count" "$@" | tee -a "$tmp/out" | grep -E '^(Benchmark|ok|FAIL)' >&2; }
run -bench '^(BenchmarkLogin|BenchmarkLoginService)$' -benchtime 10x ./app/auth
run -bench '^(BenchmarkAuthenticate|BenchmarkAuthenticateUncached)$' -benchtime "$benchtime" ./app/auth
run -bench '^(BenchmarkHealthGET|BenchmarkAuthenticatedGET|BenchmarkAuthenticatedGETAPIToken|BenchmarkAuthenticatedGETUncached)$' -benchtime "$benchtime" ./app/server

awk '
function median(name,   n, i, j, t, a) {
  n = cnt[name]; if (n == 0) return -1
  for (i = 1; i <= n; i++) a[i] = v[name, i]
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j+1] = a[j]; a[j+1] = t }
  return (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
/^Benchmark/ {
  name = $1; sub(/-[0-9]+$/, "", name)
  for (i = 2; i <= NF; i++) if ($(i+1) == "ns/op") { cnt[name]++; v[name, cnt[name]] = $i }
}
END {
  login = median("BenchmarkLogin"); svc = median("BenchmarkLoginService")
  auth = median("BenchmarkAuthenticate"); authu = median("BenchmarkAuthenticateUncached")
  h = median("BenchmarkHealthGET"); g = median("BenchmarkAuthenticatedGET")
  gt = median("BenchmarkAuthenticatedGETAPIToken"); gu = median("BenchmarkAuthenticatedGETUncached")
  printf "\nlogin: argon2id verification (DefaultArgon2) median %.1f ms (goal 50-250 ms); whole login via the service %.1f ms\n", login/1e6, svc/1e6
  printf "Authenticate (service): cached principal %.1f µs, cache miss %.1f µs\n", auth/1e3, authu/1e3
  printf "GET /api/v1/health (no auth, baseline): median %.1f µs\n", h/1e3
  printf "GET permission-gated route, access token: median %.1f µs; guard = difference %.1f µs (goal <= 50 µs); ratio %.2fx\n", g/1e3, (g-h)/1e3, g/h
  printf "GET permission-gated route, pbk_ API token: median %.1f µs; difference %.1f µs; ratio %.2fx\n", gt/1e3, (gt-h)/1e3, gt/h
  printf "GET permission-gated route, principal-cache miss: median %.1f µs; difference %.1f µs\n", gu/1e3, (gu-h)/1e3
  printf "BENCH name=auth_login_ms value=%.1f unit=ms goal=<=250 label=\"login: argon2id verification (goal 50-250 ms)\"\n", login/1e6
  printf "BENCH name=auth_guard_us value=%.1f unit=us goal=<=50 floor=%.1f label=\"authentication + permission check per request (access token)\" floor_label=\"GET /api/v1/health, no auth\"\n", (g-h)/1e3, h/1e3
}' "$tmp/out"
