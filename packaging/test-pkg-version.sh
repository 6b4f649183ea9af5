#!/bin/sh
# Checks packaging/pkg-version.sh on the shapes `git describe` produces.
set -eu
pv=$(dirname "$0")/pkg-version.sh
fails=0
check() { # describe deb/rpm windows
  got=$("$pv" "$1") gotn=$("$pv" -n "$1")
  if [ "$got" != "$2" ] || [ "$gotn" != "$3" ]; then
    echo "FAIL: pkg-version.sh $1: $got / $gotn, want $2 / $3" >&2
    fails=1
  fi
}
check v1.2.3 1.2.3 1.2.3.0
check 1.2.3 1.2.3 1.2.3.0
check v1.2.3-4-gabc1234 1.2.3.4.gabc1234 1.2.3.4
check v1.2.3-4-gabc1234-dirty 1.2.3.4.gabc1234.dirty 1.2.3.4
check v1.2.3-rc1 '1.2.3~rc1' 1.2.3.0
check abc1234 0.0.0+gitabc1234 0.0.0.0
check 1099125-dirty 0.0.0+git1099125.dirty 0.0.0.0
check dev 0.0.0+dev 0.0.0.0
if command -v dpkg >/dev/null 2>&1; then
  # Order: a pre-release before its release, commits after a tag before the next.
  dpkg --compare-versions "$("$pv" v1.2.3-rc1)" lt "$("$pv" v1.2.3)" || { echo "FAIL: rc1 >= release" >&2; fails=1; }
  dpkg --compare-versions "$("$pv" v1.2.3)" lt "$("$pv" v1.2.3-4-gabc1234)" || { echo "FAIL: release >= release+4" >&2; fails=1; }
  dpkg --compare-versions "$("$pv" v1.2.3-4-gabc1234)" lt "$("$pv" v1.2.4)" || { echo "FAIL: release+4 >= next" >&2; fails=1; }
  dpkg --compare-versions "$("$pv" abc1234)" lt "$("$pv" v0.1.0)" || { echo "FAIL: untagged >= first tag" >&2; fails=1; }
fi
[ "$fails" = 0 ] && echo "test-pkg-version: passed"
exit "$fails"
