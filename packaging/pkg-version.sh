#!/bin/sh
# Turns a `git describe --tags --always --dirty` version into versions the
# package formats accept and order correctly:
#   pkg-version.sh VERSION        deb/rpm version
#   pkg-version.sh -n VERSION     four numbers, for Windows file versions
#
#   v1.2.3                   1.2.3                 1.2.3.0
#   v1.2.3-4-gabc1234        1.2.3.4.gabc1234      1.2.3.4   (after 1.2.3)
#   v1.2.3-rc1               1.2.3~rc1             1.2.3.0   (before 1.2.3)
#   abc1234 (no tag)         0.0.0+gitabc1234      0.0.0.0
#   ...-dirty                ... + .dirty
set -eu
numeric=0
if [ "${1:-}" = -n ]; then numeric=1; shift; fi
v=${1:?usage: pkg-version.sh [-n] VERSION}
v=${v#v}
dirty=
case "$v" in *-dirty) dirty=.dirty; v=${v%-dirty} ;; esac

base= count= hash= pre=
# A bare abbreviated commit (no tag yet) may consist of digits only.
if echo "$v" | grep -Eq '^[0-9a-f]{7,40}$'; then
  base=0.0.0
  hash=git$v
elif echo "$v" | grep -Eq '^[0-9]+(\.[0-9]+)*'; then
  base=$(echo "$v" | sed -E 's/^([0-9]+(\.[0-9]+)*).*/\1/')
  rest=${v#"$base"}
  if echo "$rest" | grep -Eq -- '-[0-9]+-g[0-9a-f]+$'; then
    count=$(echo "$rest" | sed -E 's/.*-([0-9]+)-g[0-9a-f]+$/\1/')
    hash=$(echo "$rest" | sed -E 's/.*-[0-9]+-(g[0-9a-f]+)$/\1/')
    rest=$(echo "$rest" | sed -E 's/-[0-9]+-g[0-9a-f]+$//')
  fi
  pre=$(echo "${rest#-}" | tr -c 'A-Za-z0-9.\n' '.')
else
  base=0.0.0
  hash=$(echo "$v" | tr -c 'A-Za-z0-9.\n' '.')
fi

if [ "$numeric" = 1 ]; then
  set -- $(echo "$base" | tr '.' ' ') 0 0 0
  echo "$1.$2.$3.${count:-0}"
  exit 0
fi

out=$base
[ -z "$pre" ] || out="$out~$pre"
if [ -n "$count" ]; then
  out="$out.$count.$hash"
elif [ -n "$hash" ]; then
  out="$out+$hash"
fi
echo "$out$dirty"
