#!/usr/bin/env bash
# Crash figures of issue 14: kill -9 during ATT&CK sync, Atomic import and
# evidence upload, N times each, restart, and print the tally.
# Usage: bench/faults.sh [N]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
CGO_ENABLED=0 go build -trimpath -o bin/purplebook .
exec go run ./bench/faults -bin bin/purplebook -n "${1:-20}"
