#!/bin/sh
# Writes the licence notices of what a purplebook binary contains: the Go
# standard library, every Go module compiled in (from `go version -m`, texts
# from the module cache) and the Svelte runtime bundled into the web app.
#   notices.sh BINARY [VERSION] > NOTICES.txt
set -eu
bin=${1:?usage: notices.sh BINARY [VERSION]}
GO=${GO:-go}
modcache=$($GO env GOMODCACHE)
root=$(cd "$(dirname "$0")/.." && pwd)

licence_of() { # dir
  for f in LICENSE LICENSE.txt LICENSE.md LICENCE COPYING LICENSE-MIT; do
    if [ -f "$1/$f" ]; then cat "$1/$f"; return 0; fi
  done
  return 1
}

section() { # title
  printf '\n================================================================================\n%s\n================================================================================\n\n' "$1"
}

version=${2:-$($GO version -m "$bin" | awk '$1 == "mod" {print $3; exit}')}
echo "Licence notices of Purplebook $version and of the software compiled into it."
if [ -f "$root/LICENSE" ]; then
  section "Purplebook"
  cat "$root/LICENSE"
fi

section "The Go standard library and runtime ($($GO env GOVERSION))"
cat "$($GO env GOROOT)/LICENSE"

$GO version -m "$bin" | awk '$1 == "dep" {print $2, $3} $1 == "=>" {print "=>", $2, $3}' |
while read -r path ver; do
  [ "$path" != "=>" ] || continue # replaced modules: the replacement line follows the dep
  # The module cache escapes upper-case letters as !lower-case.
  esc=$(printf '%s' "$path" | sed 's/[A-Z]/!&/g' | tr 'A-Z' 'a-z')
  section "$path $ver"
  licence_of "$modcache/$esc@$ver" || echo "(licence text not found in the module cache: see https://pkg.go.dev/$path?tab=licenses)"
done

if [ -d "$root/assets/node_modules/svelte" ]; then
  section "svelte $(sed -n 's/^[[:space:]]*"version": "\(.*\)".*/\1/p' "$root/assets/node_modules/svelte/package.json" | head -n 1) (bundled into the web app)"
  licence_of "$root/assets/node_modules/svelte"
fi
