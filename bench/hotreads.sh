#!/usr/bin/env bash
# Load figures of issue 14 on the built binary: wrk on the hot reads beside
# a bare net/http server serving the same bytes, then a soak at half the
# maximum rate with the RSS sampled every 10 s.
# Usage: bench/hotreads.sh [SOAK] [WRK_DURATION]   (defaults 10m and 10s)
set -euo pipefail
cd "$(dirname "$0")/.."
soak=${1:-10m}
wrkd=${2:-10s}
mkdir -p bin
CGO_ENABLED=0 go build -trimpath -o bin/purplebook .
go build -o bin/bare ./bench/bare
exec go run ./bench/hotreads -bin bin/purplebook -bare bin/bare -soak "$soak" -wrk-duration "$wrkd"
