#!/usr/bin/env bash
# Rebuilds assets/dist when the SPA sources differ from those it was built
# from (assets/dist.sha256 records their hash), and only when npm exists: the
# committed dist keeps `make run` working without Node.
set -euo pipefail
cd "$(dirname "$0")/../assets"
want=$(bash scripts/source-hash.sh)
have=$(cat dist.sha256 2>/dev/null || true)
if [ "$want" = "$have" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "ui: sources changed since assets/dist was built, but npm is not installed: serving the committed build" >&2
  exit 0
fi
echo "ui: sources changed: rebuilding assets/dist"
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build
