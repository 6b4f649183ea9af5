# Helpers of the packaging tests (sourced by packaging/test-*.sh).

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "  ok: $*"; }
note() { echo "  note: $*"; }
step() { echo "-- $*"; }

# need CMD DEBIAN_PACKAGE: fail clearly when a tool is missing.
need() {
  command -v "$1" >/dev/null 2>&1 || fail "$1 is missing: apt-get install -y $2"
}

need_root() {
  [ "$(id -u)" = 0 ] || fail "must run as root (it installs packages and creates users)"
}

size_of() { # human size of a file
  local b
  b=$(stat -c %s "$1")
  awk -v b="$b" 'BEGIN { printf "%.1f MB", b / 1e6 }'
}

# pb_version: what make passes, else git describe.
pb_version() {
  if [ -n "${VERSION:-}" ]; then echo "$VERSION"; return; fi
  git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev
}

# build_binary GOOS GOARCH OUT: a release build like make dist's.
build_binary() {
  echo "  building $1/$2 binary" >&2
  (cd "$root" && CGO_ENABLED=0 GOOS=$1 GOARCH=$2 ${GO:-go} build -trimpath \
    -ldflags "-s -w -X github.com/purplebook/purplebook/app/diag.Version=$(pb_version)" -o "$3" .) >&2
}

# linux_binary [GIVEN] WORK: the given binary (absolute) or a fresh build.
linux_binary() {
  if [ -n "$1" ]; then
    [ -x "$1" ] || fail "not an executable: $1"
    echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
  else
    build_binary linux amd64 "$2/purplebook"
    echo "$2/purplebook"
  fi
}

# unit_value KEY FILE: the last KEY= value of a unit file.
unit_value() { sed -n "s/^$1=//p" "$2" | tail -n 1; }

# port_busy HOST:PORT: something accepts connections there.
port_busy() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

# wait_health URL PID LOG: poll until 200; fail if the process dies or 20 s pass.
wait_health() {
  local i code
  for i in $(seq 1 400); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null || true)
    [ "$code" = 200 ] && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; fail "the server exited before $1 answered"; }
    sleep 0.05
  done
  cat "$3" >&2
  fail "$1 did not answer 200 within 20 s (last status $code)"
}

# wait_exit PID SECONDS: wait for a background process to end.
wait_exit() {
  local i
  for i in $(seq 1 $(($2 * 20))); do
    kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null || true; return 0; }
    sleep 0.05
  done
  return 1
}
