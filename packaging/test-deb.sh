#!/usr/bin/env bash
# Installs the amd64 .deb on this machine and checks it, then removes it:
# files, the purplebook user, the unit (systemd-analyze verify), a start of
# the installed binary with the unit's ExecStart as the unit's user until
# /api/v1/health answers 200, a graceful stop, `dpkg -r` keeping
# /var/lib/purplebook and `dpkg -P` deleting it. Also builds the .rpm.
#
#   packaging/test-deb.sh [LINUX_AMD64_BINARY]
#
# Needs root, dpkg, curl and Go; runs where systemd is not PID 1 (it does not
# use systemctl). Idempotent: it removes what an interrupted run left, and
# refuses to touch a purplebook package it did not install.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/packaging/test-lib.sh"

need_root
need dpkg dpkg curl
need dpkg-deb dpkg
need setpriv util-linux
need getent libc-bin
need useradd passwd
need go golang

marker=/var/lib/purplebook/.purplebook-test-deb
if dpkg-query -W -f='${Status}' purplebook 2>/dev/null | grep -q 'installed\|config-files'; then
  if [ -f "$marker" ] || [ ! -d /var/lib/purplebook ]; then
    echo "test-deb: purging the package left by an earlier run"
    dpkg -P purplebook >/dev/null
  else
    fail "a purplebook package not installed by this test is on this machine; remove it first (dpkg -P purplebook deletes its data)"
  fi
fi

work=$(mktemp -d)
server_pid=
cleanup() {
  [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
  if dpkg-query -W -f='${Status}' purplebook 2>/dev/null | grep -q 'installed\|config-files'; then
    dpkg -P purplebook >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

binary=$(linux_binary "${1:-}" "$work")
version=$("$binary" version | awk '{print $2}')
step "packages of $version"
"$root/packaging/build-linux.sh" amd64 "$binary" "$version" "$work/out" deb rpm >/dev/null
deb=$(ls "$work"/out/*.deb)
rpm=$(ls "$work"/out/*.rpm)
ok "built $(basename "$deb") ($(size_of "$deb")) and $(basename "$rpm") ($(size_of "$rpm"))"
if command -v rpm >/dev/null 2>&1; then
  rpm -qpl "$rpm" | grep -qx /usr/bin/purplebook || fail "the rpm lacks /usr/bin/purplebook"
  ok "rpm lists /usr/bin/purplebook"
fi

step "package contents"
contents=$(dpkg-deb -c "$deb" | awk '{print $1, $6}')
for f in "-rwxr-xr-x ./usr/bin/purplebook" "-rw-r--r-- ./usr/lib/systemd/system/purplebook.service" \
  "-rw------- ./etc/default/purplebook" "-rw-r--r-- ./usr/share/doc/purplebook/LICENSE" \
  "-rw-r--r-- ./usr/share/doc/purplebook/copyright" "-rw-r--r-- ./usr/share/doc/purplebook/THIRD_PARTY_NOTICES.md"; do
  grep -qxF -- "$f" <<<"$contents" || fail "the .deb lacks $f"
done
dpkg-deb -f "$deb" Version | grep -qx "$("$root/packaging/pkg-version.sh" "$version")-1" || fail "wrong package version"
[ "$(dpkg-deb -I "$deb" conffiles)" = /etc/default/purplebook ] || fail "/etc/default/purplebook is not a conffile"
ok "files, modes, version and conffile"

step "dpkg -i"
dpkg -i "$deb" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "dpkg -i failed"; }
touch "$marker"
[ -x /usr/bin/purplebook ] || fail "/usr/bin/purplebook missing"
/usr/bin/purplebook version | grep -qF "$version" || fail "purplebook version does not print $version"
unit=/usr/lib/systemd/system/purplebook.service
[ -f "$unit" ] || fail "$unit missing"
[ "$(stat -c %a /etc/default/purplebook)" = 600 ] || fail "/etc/default/purplebook is not 0600"
getent passwd purplebook >/dev/null || fail "no purplebook user"
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd purplebook)
[ "$uid" -lt 1000 ] || fail "purplebook is not a system user (uid $uid)"
[ "$home" = /var/lib/purplebook ] || fail "home of purplebook is $home"
case "$shell" in */nologin|/bin/false) ;; *) fail "purplebook has a login shell: $shell" ;; esac
[ "$(stat -c '%U:%G %a' /var/lib/purplebook)" = "purplebook:purplebook 750" ] || fail "/var/lib/purplebook: $(stat -c '%U:%G %a' /var/lib/purplebook)"
ok "binary, unit, settings 0600, system user $uid without login, /var/lib/purplebook purplebook 0750"
if [ -d /run/systemd/system ]; then
  note "systemd runs here: the package started the service"
else
  grep -q "systemd is not running" "$work/install.log" || fail "postinst did not say that it started nothing"
  ok "postinst started nothing without systemd, and said so"
fi

if command -v systemd-analyze >/dev/null 2>&1; then
  systemd-analyze verify "$unit" || fail "systemd-analyze verify $unit"
  exposure=$(systemd-analyze security --offline=true "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for purplebook.service: \([0-9.]*\).*/\1/p' || true)
  ok "systemd-analyze verify${exposure:+; exposure $exposure (systemd-analyze security, 0 = best, 10 = worst)}"
else
  note "systemd-analyze not installed: unit not verified"
fi

step "start the installed binary like the unit does"
user=$(unit_value User "$unit")
execstart=$(unit_value ExecStart "$unit")
listen=$(unit_value Environment "$unit" | sed -n 's/^PURPLEBOOK_LISTEN=//p')
if port_busy "$listen"; then
  note "$listen is in use here; the test listens on 127.0.0.1:18420 instead"
  listen=127.0.0.1:18420
fi
# Expand ${PURPLEBOOK_LISTEN} as systemd does; word-split like ExecStart.
read -r -a cmd <<<"${execstart//\$\{PURPLEBOOK_LISTEN\}/$listen}"
[ "${cmd[0]}" = /usr/bin/purplebook ] || fail "ExecStart runs ${cmd[0]}"
start_ns=$(date +%s%N)
(umask 0077 && exec setpriv --reuid="$user" --regid="$user" --init-groups -- "${cmd[@]}") >"$work/server.log" 2>&1 &
server_pid=$!
wait_health "http://$listen/api/v1/health" "$server_pid" "$work/server.log"
ms=$((($(date +%s%N) - start_ns) / 1000000))
ok "ExecStart as $user: /api/v1/health 200 after $ms ms"
grep -q '"msg":"server_started"' "$work/server.log" || fail "no JSON server_started line in the log"
ok "JSON logs on stdout/stderr (journald)"
if [ -f /var/lib/purplebook/setup-token ]; then
  [ "$(stat -c '%U %a' /var/lib/purplebook/setup-token)" = "purplebook 600" ] || fail "setup-token: $(stat -c '%U %a' /var/lib/purplebook/setup-token)"
  ok "first-run setup token in /var/lib/purplebook/setup-token, purplebook 0600"
fi
[ "$(stat -c %U /var/lib/purplebook/purplebook.db)" = purplebook ] || fail "database not owned by purplebook"
stop_ns=$(date +%s%N)
kill -TERM "$server_pid"
wait_exit "$server_pid" 15 || fail "the server did not stop within 15 s of SIGTERM"
server_pid=
ok "SIGTERM: stopped in $((($(date +%s%N) - stop_ns) / 1000000)) ms"

step "dpkg -i again (upgrade path)"
dpkg -i "$deb" >"$work/reinstall.log" 2>&1 || { cat "$work/reinstall.log"; fail "reinstall failed"; }
[ -f /var/lib/purplebook/purplebook.db ] || fail "reinstall lost the database"
ok "reinstall keeps the data"

step "dpkg -r"
dpkg -r purplebook >"$work/remove.log" 2>&1 || { cat "$work/remove.log"; fail "dpkg -r failed"; }
[ ! -e /usr/bin/purplebook ] || fail "/usr/bin/purplebook still there"
[ ! -e "$unit" ] || fail "$unit still there"
[ -f /var/lib/purplebook/purplebook.db ] || fail "dpkg -r deleted /var/lib/purplebook"
getent passwd purplebook >/dev/null || fail "dpkg -r deleted the user"
[ -f /etc/default/purplebook ] || fail "dpkg -r deleted the conffile"
ok "binary and unit gone; data, user and /etc/default/purplebook kept"

step "dpkg -P"
dpkg -P purplebook >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "dpkg -P failed"; }
[ ! -e /var/lib/purplebook ] || fail "dpkg -P kept /var/lib/purplebook"
! getent passwd purplebook >/dev/null || fail "dpkg -P kept the user"
! getent group purplebook >/dev/null || fail "dpkg -P kept the group"
[ ! -e /etc/default/purplebook ] || fail "dpkg -P kept /etc/default/purplebook"
ok "data, user, group and settings deleted"

echo "test-deb: passed"
