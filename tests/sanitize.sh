#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build the Check unit tests of common/ with ASan + UBSan (clang,
# ./configure --enable-sanitizers) and run them in-process (CK_FORK=no)
# with leak detection. The source tree is configured in-tree, so this works
# on a copy (tracked and untracked, non-ignored files) in a temp directory;
# the working tree is never touched.
#
#   tests/sanitize.sh            exit status non-zero on any failed check
#                                or sanitizer report
# Environment: CC (default clang), SANITIZE_KEEP=1 keeps the temp tree,
# SANITIZE_DIR chooses it (default: mktemp under ${TMPDIR:-/tmp}).
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
CC=${CC:-clang}
WORK=${SANITIZE_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/b2c-sanitize.XXXXXX")}
LOG=$WORK/sanitize.log
mkdir -p "$WORK/src"

cleanup() {
  if [ "${SANITIZE_KEEP:-0}" = 1 ] || [ "${failed:-1}" -ne 0 ]; then
    echo "sanitize: tree and logs kept in $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
fail_early() { # STEP: a build step failed
  echo "sanitize: $1 failed, last lines of $LOG:"
  tail -n 30 "$LOG"
  echo "sanitize: 0 passed, 1 failed"
  failed=1
  exit 1
}

echo "sanitize: copying the tree to $WORK/src"
cd "$TOP"
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
  tar --null -T - -cf - | tar -xf - -C "$WORK/src"
cd "$WORK/src"

echo "sanitize: autoreconf + configure (CC=$CC --enable-sanitizers)"
: >"$LOG"
autoreconf -fi >>"$LOG" 2>&1 || fail_early autoreconf
./configure -q CC="$CC" --enable-sanitizers \
  CFLAGS="-g -O1 -fno-sanitize-recover=undefined" \
  LDFLAGS="-fsanitize=address,undefined" >>"$LOG" 2>&1 || fail_early configure
grep -q '^check_PROGRAMS = tests/unit/test_core' Makefile ||
  fail_early "configure (Check not found: apt-get install check)"

echo "sanitize: building tests/unit/test_core"
make -j"$(nproc)" tests/unit/test_core >>"$LOG" 2>&1 || fail_early make

echo "sanitize: running the unit tests"
rc=0
CK_FORK=no \
ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}" \
  ./tests/unit/test_core >"$WORK/test_core.log" 2>&1 || rc=$?

summary=$(grep -Eo 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$WORK/test_core.log" | tail -1 || true)
checks=0 failures=0
if [ -n "$summary" ]; then
  read -r checks f e <<<"$(echo "$summary" | tr -dc '0-9 ,' | tr ',' ' ')"
  failures=$((f + e))
fi
reports=$(grep -cE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORK/test_core.log" || true)

grep -E '^[^ ]+:[0-9]+:[EF]:' "$WORK/test_core.log" || true   # failed checks
if [ "$reports" -gt 0 ]; then
  echo "sanitize: sanitizer report(s) in $WORK/test_core.log:"
  grep -E -A25 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORK/test_core.log" | head -80
fi
echo "sanitize: ${summary:-no Check summary (the run was aborted)}; exit $rc; $reports sanitizer report(s)"

failed=$failures
if [ $rc -ne 0 ] || [ "$reports" -gt 0 ] || [ -z "$summary" ]; then
  [ "$failed" -eq 0 ] && failed=1
fi
echo "sanitize: $((checks - failures)) passed, $failed failed"
[ "$failed" -eq 0 ]
