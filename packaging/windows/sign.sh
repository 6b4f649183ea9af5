#!/bin/sh
# Signs a Windows executable in place (Authenticode, osslsigncode) when a
# certificate is configured, and does nothing otherwise:
#   PURPLEBOOK_SIGN_CERT           PEM certificate chain, or a .p12/.pfx
#   PURPLEBOOK_SIGN_KEY            PEM private key (not with .p12/.pfx)
#   PURPLEBOOK_SIGN_PASSWORD       optional: key or .p12 password
#   PURPLEBOOK_SIGN_TIMESTAMP_URL  optional: RFC 3161 time-stamping server
# Also called by makensis (!uninstfinalize) for the uninstaller.
set -eu
file=${1:?usage: sign.sh FILE.exe}
cert=${PURPLEBOOK_SIGN_CERT:-}
[ -n "$cert" ] || exit 0

command -v osslsigncode >/dev/null 2>&1 || {
  echo "sign.sh: PURPLEBOOK_SIGN_CERT is set but osslsigncode is missing: apt-get install osslsigncode" >&2
  exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

set -- sign -h sha256 -n Purplebook -i https://github.com/purplebook/purplebook
case "$cert" in
  *.p12|*.pfx|*.P12|*.PFX) set -- "$@" -pkcs12 "$cert" ;;
  *)
    key=${PURPLEBOOK_SIGN_KEY:?sign.sh: PURPLEBOOK_SIGN_KEY is needed with a PEM certificate}
    set -- "$@" -certs "$cert" -key "$key"
    ;;
esac
if [ -n "${PURPLEBOOK_SIGN_PASSWORD:-}" ]; then
  # From a file, not the command line, where ps would show it.
  (umask 077 && printf '%s' "$PURPLEBOOK_SIGN_PASSWORD" >"$tmp/pass")
  set -- "$@" -readpass "$tmp/pass"
fi
if [ -n "${PURPLEBOOK_SIGN_TIMESTAMP_URL:-}" ]; then
  set -- "$@" -ts "$PURPLEBOOK_SIGN_TIMESTAMP_URL"
fi
osslsigncode "$@" -in "$file" -out "$tmp/signed.exe" >/dev/null
cat "$tmp/signed.exe" >"$file"
echo "signed $file"
