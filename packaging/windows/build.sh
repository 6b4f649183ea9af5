#!/usr/bin/env bash
# Builds the Windows installer with NSIS:
#   build.sh BINARY VERSION OUTFILE
# BINARY is the windows/amd64 purplebook.exe, VERSION the `git describe`
# version. Signs the binary (a copy), the uninstaller and the installer when
# PURPLEBOOK_SIGN_CERT is set (see sign.sh); unsigned otherwise.
set -euo pipefail
binary=${1:?binary} version=${2:?version} outfile=${3:?outfile}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
command -v makensis >/dev/null 2>&1 || { echo "build.sh: makensis is missing: apt-get install nsis" >&2; exit 1; }
[ -f "$binary" ] || { echo "build.sh: no binary at $binary" >&2; exit 1; }

abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
mkdir -p "$(dirname "$outfile")"
outfile=$(abs "$outfile")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cp "$binary" "$work/purplebook.exe"
sh "$here/sign.sh" "$work/purplebook.exe"

args=(-V2 -NOCD "-DVERSION=$version" "-DVERSION_NUM=$("$root/packaging/pkg-version.sh" -n "$version")"
  "-DBINARY=$work/purplebook.exe" "-DLICENSE=$root/LICENSE" "-DNOTICES=$root/THIRD_PARTY_NOTICES.md"
  "-DOUTFILE=$outfile")
if [ -n "${PURPLEBOOK_SIGN_CERT:-}" ]; then
  args+=("-DSIGN=sh \"$here/sign.sh\" \"%1\"")
fi
# -NOCD: relative paths in the script are relative to packaging/windows.
(cd "$here" && makensis "${args[@]}" purplebook.nsi)
sh "$here/sign.sh" "$outfile"
echo "created installer: $outfile"
