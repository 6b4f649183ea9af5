#!/bin/sh
# After the files are gone: deb postrm ("remove" | "purge" | "upgrade" ...),
# rpm %postun ($1 = 0 remove, 1 upgrade), and install.sh ("remove" |
# "purge"). Remove keeps /var/lib/purplebook and the user; purge deletes both.
set -e

if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
  systemctl reset-failed purplebook.service >/dev/null 2>&1 || true
fi

case "$1" in
  purge)
    rm -rf /var/lib/purplebook
    if getent passwd purplebook >/dev/null 2>&1; then
      userdel purplebook >/dev/null 2>&1 || true
    fi
    if getent group purplebook >/dev/null 2>&1; then
      groupdel purplebook >/dev/null 2>&1 || true
    fi
    ;;
  remove|0)
    if [ -d /var/lib/purplebook ]; then
      echo "purplebook: data kept in /var/lib/purplebook; to delete it and the purplebook user:"
      if [ "$1" = remove ]; then
        echo "  ${PURPLEBOOK_PURGE_HINT:-sudo apt purge purplebook}"
      else
        echo "  sudo rm -rf /var/lib/purplebook && sudo userdel purplebook"
      fi
    fi
    ;;
esac
exit 0
