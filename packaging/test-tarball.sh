#!/usr/bin/env bash
# Runs the linux/amd64 tar.gz's install.sh on this machine and checks that it
# does what the .deb does, then `install.sh --uninstall` (keeps the data) and
# `--uninstall --purge` (deletes it).
#
#   packaging/test-tarball.sh [LINUX_AMD64_BINARY]
#
# Needs root; installs to a temporary --prefix, but creates the purplebook
# user, /var/lib/purplebook, /etc/default/purplebook and
# /etc/systemd/system/purplebook.service, and removes them at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/packaging/test-lib.sh"

need_root
need curl curl
need setpriv util-linux
need getent libc-bin
need useradd passwd
need go golang

unit=/etc/systemd/system/purplebook.service
if [ -e "$unit" ] || [ -e /var/lib/purplebook ] || getent passwd purplebook >/dev/null; then
  if [ -f /var/lib/purplebook/.purplebook-test-tarball ] || { [ ! -e /var/lib/purplebook ] && [ ! -e "$unit" ]; }; then
    echo "test-tarball: removing what an earlier run left"
    rm -rf /var/lib/purplebook "$unit" /etc/default/purplebook
    userdel purplebook 2>/dev/null || true
    groupdel purplebook 2>/dev/null || true
  else
    fail "purplebook is installed on this machine ($unit or /var/lib/purplebook exists); the test would remove it"
  fi
fi

work=$(mktemp -d)
chmod 0755 "$work" # the purplebook user runs the binary from here
prefix=$work/prefix
server_pid=
cleanup() {
  [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
  if [ -f /var/lib/purplebook/.purplebook-test-tarball ] || [ -f "$work/installed" ]; then
    rm -rf /var/lib/purplebook "$unit" /etc/default/purplebook
    userdel purplebook 2>/dev/null || true
    groupdel purplebook 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

binary=$(linux_binary "${1:-}" "$work")
version=$("$binary" version | awk '{print $2}')
step "tar.gz of $version"
"$root/packaging/build-linux.sh" amd64 "$binary" "$version" "$work/out" tar >/dev/null
tgz=$(ls "$work"/out/*.tar.gz)
name=$(basename "$tgz" .tar.gz)
listing=$(tar tzf "$tgz")
for f in purplebook install.sh purplebook.service default.env LICENSE THIRD_PARTY_NOTICES.md INSTALL.md \
  scripts/postinstall.sh scripts/preremove.sh scripts/postremove.sh; do
  grep -qx "$name/$f" <<<"$listing" || fail "the archive lacks $name/$f"
done
ok "$(basename "$tgz") ($(size_of "$tgz")): binary, install.sh, unit, settings, scripts, licence, notices, docs"
tar -C "$work" -xzf "$tgz"

step "install.sh --prefix $prefix"
touch "$work/installed"
"$work/$name/install.sh" --prefix "$prefix" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "install.sh failed"; }
touch /var/lib/purplebook/.purplebook-test-tarball
[ -x "$prefix/bin/purplebook" ] || fail "$prefix/bin/purplebook missing"
[ "$(unit_value ExecStart "$unit" | awk '{print $1}')" = "$prefix/bin/purplebook" ] || fail "the unit does not run $prefix/bin/purplebook"
[ "$(stat -c %a /etc/default/purplebook)" = 600 ] || fail "/etc/default/purplebook is not 0600"
getent passwd purplebook >/dev/null || fail "no purplebook user"
[ "$(stat -c '%U:%G %a' /var/lib/purplebook)" = "purplebook:purplebook 750" ] || fail "/var/lib/purplebook: $(stat -c '%U:%G %a' /var/lib/purplebook)"
ok "binary, unit running $prefix/bin/purplebook, settings 0600, user, data dir"
if command -v systemd-analyze >/dev/null 2>&1; then
  # verify wants the binary of ConditionFileIsExecutable/ExecStart to exist.
  systemd-analyze verify "$unit" || fail "systemd-analyze verify $unit"
  ok "systemd-analyze verify"
fi

step "start as the unit does"
listen=$(unit_value Environment "$unit" | sed -n 's/^PURPLEBOOK_LISTEN=//p')
if port_busy "$listen"; then listen=127.0.0.1:18420; fi
read -r -a cmd <<<"$(unit_value ExecStart "$unit" | sed "s#\${PURPLEBOOK_LISTEN}#$listen#")"
(umask 0077 && exec setpriv --reuid=purplebook --regid=purplebook --init-groups -- "${cmd[@]}") >"$work/server.log" 2>&1 &
server_pid=$!
wait_health "http://$listen/api/v1/health" "$server_pid" "$work/server.log"
kill -TERM "$server_pid"
wait_exit "$server_pid" 15 || fail "no stop within 15 s"
server_pid=
ok "health 200, stopped"

step "install.sh again (upgrade)"
"$work/$name/install.sh" --prefix "$prefix" >"$work/upgrade.log" 2>&1 || { cat "$work/upgrade.log"; fail "second install.sh failed"; }
[ -f /var/lib/purplebook/purplebook.db ] || fail "the upgrade lost the database"
ok "upgrade keeps the data"

step "install.sh --uninstall"
"$work/$name/install.sh" --uninstall --prefix "$prefix" >"$work/uninstall.log" 2>&1 || { cat "$work/uninstall.log"; fail "uninstall failed"; }
[ ! -e "$prefix/bin/purplebook" ] && [ ! -e "$unit" ] || fail "binary or unit left"
[ -f /var/lib/purplebook/purplebook.db ] && getent passwd purplebook >/dev/null || fail "--uninstall deleted data or user"
grep -q -- "--uninstall --purge" "$work/uninstall.log" || fail "--uninstall does not say how to purge"
ok "binary and unit gone; data and user kept"

step "install.sh --uninstall --purge"
"$work/$name/install.sh" --uninstall --purge --prefix "$prefix" >"$work/purge.log" 2>&1 || { cat "$work/purge.log"; fail "purge failed"; }
[ ! -e /var/lib/purplebook ] && [ ! -e /etc/default/purplebook ] || fail "--purge left data or settings"
! getent passwd purplebook >/dev/null || fail "--purge left the user"
rm -f "$work/installed"
ok "data, settings and user deleted"

echo "test-tarball: passed"
