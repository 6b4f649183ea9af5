#!/bin/sh
# Before the files go: deb prerm ("remove" | "upgrade" ...), rpm %preun
# ($1 = 0 remove, 1 upgrade), and install.sh ("remove"). On removal stops and
# disables the service; on upgrade does nothing (postinstall restarts it).
set -e

case "$1" in
  remove|deconfigure|0) ;;
  *) exit 0 ;;
esac

unit=purplebook.service
if [ -d /run/systemd/system ]; then
  systemctl stop "$unit" >/dev/null 2>&1 || true
fi
if command -v systemctl >/dev/null 2>&1; then
  systemctl --no-reload disable "$unit" >/dev/null 2>&1 || true
fi
exit 0
