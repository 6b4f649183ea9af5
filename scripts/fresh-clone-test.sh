#!/usr/bin/env bash
# Runs `make test` as a new user would: in a fresh clone of this repository's
# HEAD, with an empty HOME, Go module cache, Go build cache and npm cache (so
# npm packages and Go modules are downloaded), no PURPLEBOOK_TEST_PG_DSN (so
# make test starts its own PostgreSQL cluster), and prints the total wall
# time; make test itself prints each stage's time before it.
#
#   scripts/fresh-clone-test.sh              clone HEAD, make test
#   scripts/fresh-clone-test.sh --setup-only clone HEAD, run only the set-up stages
#                                            (system-deps node-modules go-modules) and make -n test
#   KEEP=1 scripts/fresh-clone-test.sh       keep the temporary directory
#
# Committed work only: uncommitted changes are not in the clone. Needs the
# network (npm registry, Go module proxy) unless GOPROXY/npm_config_registry
# point at local mirrors, which are passed through.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && git rev-parse --show-toplevel)
setup_only=false
[ "${1:-}" = --setup-only ] && setup_only=true

commit=$(git -C "$root" rev-parse HEAD)
[ -z "$(git -C "$root" status --porcelain --untracked-files=no)" ] ||
  echo "fresh-clone-test: the work tree has uncommitted changes; testing the commit $commit only" >&2

tmp=$(mktemp -d "${TMPDIR:-/tmp}/purplebook-fresh.XXXXXX")
# PostgreSQL runs as another user when make test runs as root: its directory
# must not sit inside the private temp dir. A port of its own keeps it apart
# from any other cluster on this machine.
pgdir=$(mktemp -u "${TMPDIR:-/tmp}/purplebook-fresh-pg.XXXXXX")
pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 55533)
cleanup() {
  if [ "${KEEP:-}" = 1 ]; then
    echo "fresh-clone-test: kept $tmp"
  else
    chmod -R u+w "$tmp" 2>/dev/null || true # the Go module cache is read-only
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

mkdir -p "$tmp/home"
git clone --quiet --no-hardlinks "$root" "$tmp/src"
git -C "$tmp/src" checkout --quiet --detach "$commit"
echo "fresh-clone-test: $commit in $tmp/src"
# The tests read ../shared/testdata beside the checkout, as CI provides it.
shared=$(cd "$root/.." && pwd)/shared
if [ -d "$shared" ]; then ln -s "$shared" "$tmp/shared"; fi

# Only what a login shell would have, and empty caches.
env_args=(
  PATH="$PATH"
  HOME="$tmp/home"
  LANG=C.UTF-8
  TERM="${TERM:-dumb}"
  TMPDIR="${TMPDIR:-/tmp}"
  GOMODCACHE="$tmp/gomodcache"
  GOCACHE="$tmp/gocache"
  GOPATH="$tmp/gopath"
  npm_config_cache="$tmp/npm-cache"
  XDG_CACHE_HOME="$tmp/home/.cache"
  XDG_CONFIG_HOME="$tmp/home/.config"
  PB_PG_DIR="$pgdir"
  PB_PG_PORT="$pgport"
)
for v in GOPROXY GONOSUMDB GOSUMDB GOPRIVATE npm_config_registry CHROMIUM http_proxy https_proxy no_proxy; do
  [ -z "${!v:-}" ] || env_args+=("$v=${!v}")
done

start=$SECONDS
status=0
if $setup_only; then
  (cd "$tmp/src" && env -i "${env_args[@]}" make --no-print-directory system-deps node-modules go-modules &&
    env -i "${env_args[@]}" make --no-print-directory -n test >"$tmp/make-n.txt") || status=$?
  [ $status -ne 0 ] || echo "fresh-clone-test: make -n test lists $(grep -c '^==> make ' "$tmp/make-n.txt") stages"
else
  (cd "$tmp/src" && env -i "${env_args[@]}" make test) || status=$?
fi
elapsed=$((SECONDS - start))
printf 'fresh-clone-test: %s took %d:%02d (wall clock)%s\n' "$($setup_only && echo 'the set-up' || echo 'make test')" \
  $((elapsed / 60)) $((elapsed % 60)) "$([ $status -eq 0 ] || echo ", FAILED (exit $status)")"
exit $status
