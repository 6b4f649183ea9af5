#!/bin/sh
# Installs Purplebook from this directory the way the .deb/.rpm packages do:
# the binary, a hardened systemd unit, /etc/default/purplebook, the
# purplebook system user and /var/lib/purplebook; then enables and starts the
# service when systemd runs.
#
#   sudo ./install.sh [--prefix /usr/local]         install or upgrade
#   sudo ./install.sh --uninstall [--purge]         remove (--purge: data too)
set -eu

prefix=/usr/local
action=install
purge=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a directory}; shift ;;
    --prefix=*) prefix=${1#--prefix=} ;;
    --uninstall) action=uninstall ;;
    --purge) purge=1 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$(id -u)" != 0 ]; then
  echo "install.sh: run as root: sudo $0 $*" >&2
  exit 1
fi

here=$(cd "$(dirname "$0")" && pwd)
bin=$prefix/bin/purplebook
unit=/etc/systemd/system/purplebook.service
export PURPLEBOOK_PURGE_HINT="sudo $here/install.sh --uninstall --purge"

if [ "$action" = uninstall ]; then
  sh "$here/scripts/preremove.sh" remove
  rm -f "$bin" "$unit"
  if [ "$purge" = 1 ]; then
    rm -f /etc/default/purplebook
    sh "$here/scripts/postremove.sh" purge
    echo "Purplebook removed, with its data and user."
  else
    sh "$here/scripts/postremove.sh" remove
    echo "Purplebook removed."
  fi
  exit 0
fi

old=
if [ -x "$bin" ]; then
  old=$("$bin" version 2>/dev/null | awk '{print $2}') || true
  old=${old:-unknown}
fi

# Replace the binary atomically: a running service keeps its old inode.
mkdir -p "$prefix/bin"
cp "$here/purplebook" "$bin.new"
chmod 0755 "$bin.new"
mv -f "$bin.new" "$bin"

mkdir -p "$(dirname "$unit")"
sed "s#/usr/bin/purplebook#$bin#g" "$here/purplebook.service" >"$unit.new"
chmod 0644 "$unit.new"
mv -f "$unit.new" "$unit"

if [ ! -f /etc/default/purplebook ]; then
  mkdir -p /etc/default
  cp "$here/default.env" /etc/default/purplebook
  chmod 0600 /etc/default/purplebook
fi

sh "$here/scripts/postinstall.sh" configure "$old"
echo "Installed $bin ($("$bin" version))."
