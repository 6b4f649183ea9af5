#!/usr/bin/env bash
# Checks the system software `make test` needs and installs what is missing.
#   scripts/deps.sh          check; as root on Debian/Ubuntu install the missing packages
#   scripts/deps.sh --check  check only; print the install command and fail when something is missing
#
# Debian/Ubuntu packages (apt-get):
#   always          git make curl gcc libc6-dev (go test -race needs cgo), chromium (browser tests,
#                   /usr/bin/chromium or $CHROMIUM; nothing is downloaded), postgresql (initdb, pg_ctl,
#                   psql for the throwaway test cluster; not needed when PURPLEBOOK_TEST_PG_DSN is set)
#   as root only    nsis p7zip-full osslsigncode openssl dpkg util-linux passwd libc-bin coreutils
#                   (make test-packaging, which installs the .deb and runs as root only)
# Not from apt (the distributions' versions are too old): Go >= the go line of go.mod
# (https://go.dev/dl/) and Node.js >= the engines.node of assets/package.json with npm
# (https://nodejs.org/ or the NodeSource packages). This script checks them and says so.
set -euo pipefail
cd "$(dirname "$0")/.."

check_only=false
[ "${1:-}" = --check ] && check_only=true

is_root=false
[ "$(id -u)" = 0 ] && is_root=true

missing=()    # Debian packages
found=()      # what is there, for the summary
problems=()   # what apt cannot fix

have() { command -v "$1" >/dev/null 2>&1; }
# need CMD PACKAGE: PACKAGE is missing when CMD is not on the PATH.
need() {
  if have "$1"; then return; fi
  case " ${missing[*]-} " in *" $2 "*) ;; *) missing+=("$2") ;; esac
}
# version_ge A B: A >= B for dotted versions.
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]; }

# --- Go and Node.js: checked, not installed.
go_want=$(sed -n 's/^go \([0-9.]*\).*/\1/p' go.mod)
if have go; then
  go_have=$(go env GOVERSION | sed 's/^go//')
  if version_ge "$go_have" "$go_want"; then found+=("go $go_have"); else
    problems+=("Go $go_have is older than $go_want (go.mod): install Go $go_want or later from https://go.dev/dl/")
  fi
else
  problems+=("Go is missing: install Go $go_want or later from https://go.dev/dl/ (tar -C /usr/local -xzf go*.tar.gz; PATH=\$PATH:/usr/local/go/bin)")
fi
node_want=$(sed -n 's/.*"node": *">=\([0-9.]*\)".*/\1/p' assets/package.json)
if have node && have npm; then
  node_have=$(node --version | sed 's/^v//')
  if version_ge "$node_have" "$node_want"; then found+=("node $node_have"); else
    problems+=("Node.js $node_have is older than $node_want (assets/package.json): install Node.js $node_want or later with npm (https://nodejs.org/ or https://github.com/nodesource/distributions)")
  fi
else
  problems+=("Node.js/npm are missing: install Node.js $node_want or later with npm (https://nodejs.org/ or https://github.com/nodesource/distributions; Debian's and Ubuntu's nodejs packages are older)")
fi

# --- Debian packages.
need git git
need make make
need curl curl
# The race detector needs cgo: a C compiler and the C library headers.
if have gcc && printf '#include <stdlib.h>\nint main(void){return 0;}\n' | gcc -x c -fsyntax-only - >/dev/null 2>&1; then
  found+=("gcc")
else
  need gcc gcc
  missing+=(libc6-dev)
fi
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ -x "$chromium" ]; then found+=("chromium ($chromium)"); else missing+=(chromium); fi
if [ -n "${PURPLEBOOK_TEST_PG_DSN:-}" ]; then
  found+=("PostgreSQL at \$PURPLEBOOK_TEST_PG_DSN")
else
  pgbin=""
  if have pg_config && [ -x "$(pg_config --bindir)/initdb" ]; then pgbin=$(pg_config --bindir); fi
  [ -n "$pgbin" ] || pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$pgbin" ] && [ -x "$pgbin/initdb" ] && [ -x "$pgbin/pg_ctl" ] && [ -x "$pgbin/psql" ]; then
    found+=("PostgreSQL $("$pgbin/initdb" --version | awk '{print $3}')")
  else
    missing+=(postgresql)
  fi
  if $is_root; then # the cluster runs as the user pbtest (PostgreSQL refuses root)
    need runuser util-linux
    need useradd passwd
  fi
fi
if $is_root; then # make test-packaging
  for p in makensis:nsis 7z:p7zip-full osslsigncode:osslsigncode openssl:openssl dpkg-deb:dpkg \
    setpriv:util-linux useradd:passwd getent:libc-bin od:coreutils; do
    need "${p%%:*}" "${p#*:}"
  done
fi

report_problems() { for p in "${problems[@]}"; do echo "deps: $p" >&2; done; }

if [ ${#missing[@]} -gt 0 ]; then
  debian=false
  if [ -r /etc/os-release ] && grep -Eqi '^(ID|ID_LIKE)=.*(debian|ubuntu)' /etc/os-release && have apt-get; then debian=true; fi
  if $debian && $is_root && ! $check_only; then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    echo "deps: installed ${missing[*]}"
  else
    if $debian; then
      echo "deps: missing Debian/Ubuntu packages: ${missing[*]}" >&2
      sudo="sudo "
      $is_root && sudo=""
      echo "deps: run:  ${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends ${missing[*]}" >&2
      case " ${missing[*]} " in *" chromium "*)
        echo "deps: (on Ubuntu the chromium package installs the snap; CHROMIUM=/path/to/chromium selects another build)" >&2 ;;
      esac
    else
      echo "deps: missing (Debian package names): ${missing[*]}; install their equivalents" >&2
    fi
    report_problems
    exit 1
  fi
fi
if [ ${#problems[@]} -gt 0 ]; then
  report_problems
  exit 1
fi
if [ ${#missing[@]} -eq 0 ]; then
  (IFS=,; echo "deps: found ${found[*]}" | sed "s/,/, /g")
  echo "deps: everything make test needs is installed"
fi
