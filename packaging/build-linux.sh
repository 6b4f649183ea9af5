#!/usr/bin/env bash
# Builds the Linux packages of one architecture from a built binary:
#   build-linux.sh ARCH BINARY VERSION OUTDIR [deb] [rpm] [tar]
# ARCH is amd64 or arm64; VERSION the `git describe` version. Writes
#   OUTDIR/purplebook_<pkgver>-1_<arch>.deb          (nfpm)
#   OUTDIR/purplebook-<pkgver>-1.<x86_64|aarch64>.rpm (nfpm)
#   OUTDIR/purplebook_<VERSION>_linux_<arch>.tar.gz  (binary, docs, licence, notices, install.sh)
# nfpm runs as a Go tool of packaging/tools/go.mod, so nothing but Go
# modules is downloaded and the build cache keeps it compiled.
set -euo pipefail
arch=${1:?arch} binary=${2:?binary} version=${3:?version} out=${4:?outdir}
shift 4
formats=("$@")
[ ${#formats[@]} -gt 0 ] || formats=(deb rpm tar)

root=$(cd "$(dirname "$0")/.." && pwd)
GO=${GO:-go}
case "$arch" in amd64|arm64) ;; *) echo "build-linux.sh: unsupported arch $arch" >&2; exit 2 ;; esac
[ -f "$binary" ] || { echo "build-linux.sh: no binary at $binary" >&2; exit 1; }
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
mkdir -p "$out"
out=$(cd "$out" && pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for f in "${formats[@]}"; do
  case "$f" in
    deb|rpm)
      (cd "$root" && PB_ARCH=$arch PB_PKG_VERSION=$("$root/packaging/pkg-version.sh" "$version") \
        PB_BINARY=$binary \
        $GO tool -modfile=packaging/tools/go.mod nfpm package --config packaging/linux/nfpm.yaml \
          --packager "$f" --target "$out/")
      ;;
    tar)
      name=purplebook_${version}_linux_${arch}
      d=$work/$name
      mkdir -p "$d/scripts"
      install -m 0755 "$binary" "$d/purplebook"
      install -m 0755 "$root/packaging/linux/install.sh" "$d/install.sh"
      install -m 0644 "$root/packaging/linux/purplebook.service" "$root/packaging/linux/default.env" "$d/"
      install -m 0755 "$root"/packaging/linux/scripts/*.sh "$d/scripts/"
      install -m 0644 "$root/README.md" "$root/LICENSE" "$root/THIRD_PARTY_NOTICES.md" "$root/docs/INSTALL.md" "$d/"
      tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner -czf "$out/$name.tar.gz" "$name"
      echo "created package: $out/$name.tar.gz"
      ;;
    *) echo "build-linux.sh: unknown format $f" >&2; exit 2 ;;
  esac
done
