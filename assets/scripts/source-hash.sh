#!/usr/bin/env bash
# Prints one sha256 over the SPA sources (paths and contents), so `make run`
# can tell whether assets/dist was built from the current sources
# (assets/dist.sha256, written by `npm run build`).
set -euo pipefail
cd "$(dirname "$0")/.."
{ find src public -type f; ls index.html vite.config.ts svelte.config.js tsconfig.json package-lock.json; } 2>/dev/null |
  LC_ALL=C sort | while read -r f; do printf '%s  ' "$f"; sha256sum <"$f" | cut -d' ' -f1; done | sha256sum | cut -d' ' -f1
