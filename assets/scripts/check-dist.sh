#!/usr/bin/env bash
# Fails when the committed assets/dist differs from a fresh build of the
# sources (the build is deterministic: same sources, byte-identical output).
# Called from `make test`. Needs node_modules (npm ci in assets/).
set -euo pipefail

cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/vite ]; then
	echo "check-dist: assets/node_modules is missing: run 'npm ci' in assets/ first" >&2
	exit 2
fi
if [ ! -f dist/index.html ]; then
	echo "assets/dist is stale: run make ui (assets/dist/index.html is missing)" >&2
	exit 1
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/purplebook-dist.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

node_modules/.bin/vite build --outDir "$tmp/dist" --emptyOutDir --logLevel error

if ! diff -r "$tmp/dist" dist >"$tmp/diff.txt" 2>&1; then
	echo "assets/dist is stale: run make ui" >&2
	echo "differences (fresh build vs committed assets/dist):" >&2
	diff -rq "$tmp/dist" dist 2>&1 | sed "s#$tmp/dist#<fresh build>#g; s#^#  #" | head -n 30 >&2 || true
	exit 1
fi
echo "check-dist: assets/dist matches the sources"
