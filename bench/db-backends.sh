#!/usr/bin/env bash
# Same 10,000-row insert + list workload on SQLite and PostgreSQL: both
# medians and the ratio. Uses $PURPLEBOOK_TEST_PG_DSN or starts a throwaway
# cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PURPLEBOOK_TEST_PG_DSN:-}" ]; then
  PURPLEBOOK_TEST_PG_DSN=$(PB_PG_DIR=/tmp/purplebook-pg-bench PB_PG_PORT=55434 scripts/pg-test-server.sh start)
  trap 'PB_PG_DIR=/tmp/purplebook-pg-bench scripts/pg-test-server.sh stop' EXIT
fi
go run -tags postgres ./bench/dbbackends -pg "$PURPLEBOOK_TEST_PG_DSN" "$@"
