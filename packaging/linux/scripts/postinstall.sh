#!/bin/sh
# After the files are in place: deb postinst ("configure" [old-version]),
# rpm %post ($1 = 1 install, 2 upgrade), and install.sh ("configure" [old]).
# Creates the purplebook system user and /var/lib/purplebook, then enables
# and starts the service on a first install, or restarts it on an upgrade.
# Without a running systemd (containers, chroots) it starts nothing.
set -e

case "$1" in
  configure) if [ -z "$2" ]; then first=1; else first=0; fi ;;
  1) first=1 ;;
  2) first=0 ;;
  abort-*) exit 0 ;;
  *) first=1 ;;
esac

user=purplebook
datadir=/var/lib/purplebook

nologin=$(command -v nologin 2>/dev/null || echo /usr/sbin/nologin)
[ -x "$nologin" ] || nologin=/bin/false
if ! getent group "$user" >/dev/null 2>&1; then
  if command -v groupadd >/dev/null 2>&1; then
    groupadd --system "$user"
  else # busybox (Alpine)
    addgroup -S "$user"
  fi
fi
if ! getent passwd "$user" >/dev/null 2>&1; then
  if command -v useradd >/dev/null 2>&1; then
    useradd --system --gid "$user" --home-dir "$datadir" --no-create-home \
      --shell "$nologin" --comment "Purplebook service" "$user"
  else
    adduser -S -D -H -h "$datadir" -s "$nologin" -G "$user" -g "Purplebook service" "$user"
  fi
fi

# systemd's StateDirectory= creates it too; this covers the first start
# without systemd and `purplebook` commands run by hand as the user.
mkdir -p "$datadir"
chown "$user:$user" "$datadir"
chmod 0750 "$datadir"
[ ! -f /etc/default/purplebook ] || chmod 0600 /etc/default/purplebook

unit=purplebook.service
if command -v systemctl >/dev/null 2>&1; then
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
  fi
  if [ "$first" = 1 ]; then
    # Works offline too: the service then starts at the next boot.
    systemctl --no-reload enable "$unit" >/dev/null 2>&1 || true
  fi
fi

if [ -d /run/systemd/system ]; then
  if [ "$first" = 1 ]; then
    systemctl start "$unit" || echo "purplebook: the service did not start; see: journalctl -u purplebook" >&2
  else
    systemctl try-restart "$unit" || true
  fi
  listen=127.0.0.1:8420
  if [ -r /etc/default/purplebook ]; then
    l=$(sed -n 's/^[[:space:]]*PURPLEBOOK_LISTEN=["'\'']\{0,1\}\([^"'\'']*\).*/\1/p' /etc/default/purplebook | tail -n 1)
    [ -z "$l" ] || listen=$l
  fi
  case "$listen" in 0.0.0.0:*|\[::\]:*|:*) listen="127.0.0.1:${listen##*:}" ;; esac
  echo "Purplebook runs as the systemd service purplebook: http://$listen/"
  if [ "$first" = 1 ]; then
    i=0
    while [ ! -f "$datadir/setup-token" ] && [ $i -lt 20 ]; do sleep 0.25; i=$((i + 1)); done
    if [ -f "$datadir/setup-token" ]; then
      echo "First run: open http://$listen/setup and enter the one-time setup token, shown by:"
      echo "  sudo cat $datadir/setup-token"
    fi
  fi
  echo "Logs: journalctl -u purplebook   Settings: /etc/default/purplebook"
else
  echo "purplebook: systemd is not running, so the service was not started."
  exe=$(command -v purplebook 2>/dev/null || echo /usr/bin/purplebook)
  echo "  Start the server by hand: sudo -u purplebook $exe serve --data-dir $datadir"
fi
exit 0
