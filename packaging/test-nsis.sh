#!/usr/bin/env bash
# Builds the Windows installer with makensis from a windows/amd64 binary and
# checks: the binary is a PE32+ x86-64 executable, the installer a PE
# executable holding exactly that binary (7z lists and extracts NSIS
# archives) plus the uninstaller, the licence and the notices; then signs a second build
# with a throwaway certificate and verifies the installer, the binary and the
# uninstaller inside it.
#
#   packaging/test-nsis.sh [WINDOWS_AMD64_EXE]
#
# Windows itself is not run: Debian's wine (8.0) cannot start Go >= 1.24
# binaries (they need bcryptprimitives.dll's ProcessPrng).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/packaging/test-lib.sh"

need makensis nsis
need 7z p7zip-full
need osslsigncode osslsigncode
need openssl openssl
need od coreutils

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# pe_machine FILE: prints the COFF machine (8664 = x86-64, 014c = x86) or fails.
pe_machine() {
  [ "$(head -c 2 "$1")" = MZ ] || return 1
  local off
  off=$(od -An -t u4 -j 60 -N 4 "$1" | tr -d ' ')
  [ "$(od -An -c -j "$off" -N 4 "$1" | tr -d ' ')" = 'PE\0\0' ] || return 1
  od -An -t x2 -j $((off + 4)) -N 2 "$1" | tr -d ' '
}

if [ -n "${1:-}" ]; then
  exe=$1
  [ -f "$exe" ] || fail "no file $exe"
else
  exe=$work/purplebook.exe
  build_binary windows amd64 "$exe"
fi
version=$(pb_version)

step "windows binary"
m=$(pe_machine "$exe") || fail "$exe is not a PE executable"
[ "$m" = 8664 ] || fail "$exe is a PE for machine $m, not x86-64"
ok "$(basename "$exe") ($(size_of "$exe")): MZ + PE header, x86-64"

step "installer (unsigned)"
setup=$work/out/purplebook-$version-setup.exe
PURPLEBOOK_SIGN_CERT= "$root/packaging/windows/build.sh" "$exe" "$version" "$setup" >"$work/build.log" 2>&1 ||
  { cat "$work/build.log"; fail "makensis failed"; }
m=$(pe_machine "$setup") || fail "the installer is not a PE executable"
ok "$(basename "$setup") ($(size_of "$setup")): PE, machine $m"
7z l -ba "$setup" >"$work/list" 2>&1 || { cat "$work/list"; fail "7z cannot read the installer"; }
for f in purplebook.exe uninstall.exe LICENSE.txt THIRD_PARTY_NOTICES.txt purplebook.ico; do
  grep -q " $f\$" "$work/list" || fail "the installer lacks $f"
done
7z x -y -o"$work/x" "$setup" purplebook.exe LICENSE.txt THIRD_PARTY_NOTICES.txt >/dev/null
cmp -s "$exe" "$work/x/purplebook.exe" || fail "the purplebook.exe in the installer differs from $exe"
cmp -s "$root/LICENSE" "$work/x/LICENSE.txt" || fail "LICENSE.txt in the installer differs from LICENSE"
cmp -s "$root/THIRD_PARTY_NOTICES.md" "$work/x/THIRD_PARTY_NOTICES.txt" || fail "THIRD_PARTY_NOTICES.txt differs from THIRD_PARTY_NOTICES.md"
ok "holds purplebook.exe (identical), uninstall.exe, LICENSE.txt, THIRD_PARTY_NOTICES.txt, icon"

step "signed installer (throwaway certificate)"
openssl req -x509 -newkey rsa:2048 -keyout "$work/key.pem" -out "$work/cert.pem" -days 1 \
  -subj "/CN=Purplebook test signing" -addext extendedKeyUsage=codeSigning \
  -passout pass:test-pass >/dev/null 2>&1 || fail "openssl could not make a test certificate"
signed=$work/signed/purplebook-$version-setup.exe
PURPLEBOOK_SIGN_CERT=$work/cert.pem PURPLEBOOK_SIGN_KEY=$work/key.pem PURPLEBOOK_SIGN_PASSWORD=test-pass \
  "$root/packaging/windows/build.sh" "$exe" "$version" "$signed" >"$work/sign.log" 2>&1 ||
  { cat "$work/sign.log"; fail "signed build failed"; }
rm -rf "$work/x"
7z x -y -o"$work/x" "$signed" purplebook.exe uninstall.exe >/dev/null
for f in "$signed" "$work/x/purplebook.exe" "$work/x/uninstall.exe"; do
  osslsigncode verify -CAfile "$work/cert.pem" -in "$f" >"$work/verify.log" 2>&1 ||
    { cat "$work/verify.log"; fail "signature of $(basename "$f") does not verify"; }
done
ok "installer, purplebook.exe and uninstall.exe carry valid Authenticode signatures"

echo "test-nsis: passed"
