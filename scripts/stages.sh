#!/usr/bin/env bash
# Runs make targets one after the other, stops at the first that fails, and
# prints each one's wall time at the end (also after a failure):
#   scripts/stages.sh "MAKE [FLAGS]" TARGET...
# `make test` runs its stages through this, so a run's log ends with the
# figures (stage by stage, and the total).
set -uo pipefail
mk=$1
shift
names=()
secs=()
failed=""
start=$SECONDS
for t in "$@"; do
  s=$SECONDS
  echo "==> make $t"
  # shellcheck disable=SC2086 # $mk is "make" plus its flags
  $mk "$t"
  rc=$?
  names+=("$t")
  secs+=($((SECONDS - s)))
  if [ $rc -ne 0 ]; then
    failed=$t
    break
  fi
done
total=$((SECONDS - start))

# make -n test: the commands were printed, nothing ran; no figures.
first=${MAKEFLAGS:-}
first=${first%% *}
if [[ $first != -* && $first == *n* ]]; then
  [ -z "$failed" ] || exit 1
  exit 0
fi

mmss() { printf '%d:%02d' $(($1 / 60)) $(($1 % 60)); }
echo
echo "make test: wall time per stage"
for i in "${!names[@]}"; do
  printf '  %-16s %7s%s\n' "${names[$i]}" "$(mmss "${secs[$i]}")" "$([ "${names[$i]}" = "$failed" ] && echo '  FAILED')"
done
printf '  %-16s %7s\n' total "$(mmss "$total")"
if [ -n "$failed" ]; then
  echo "make test: FAILED in stage $failed"
  exit 1
fi
echo "make test: all passed"
