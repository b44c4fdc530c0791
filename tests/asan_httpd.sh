#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The httpd integration suite against modules built with ASan + UBSan, then a
# valgrind memcheck of both modules in a single-process httpd.
#
#   tests/asan_httpd.sh [--asan-only|--valgrind-only] [pytest args...]
#
# 1. ASan: copies the tree (git ls-files: tracked and untracked, non-ignored
#    files) to a temp dir, builds it with ./configure --enable-sanitizers, and
#    runs `python3 -m pytest -q tests/httpd` (or the pytest args given) with
#    B2C_MODULE_DIR pointing at the sanitized modules and APACHE_BIN at a
#    wrapper that starts Debian's (uninstrumented) apache2 with the ASan
#    runtime in LD_PRELOAD. halt_on_error: the first report kills the
#    process; every report goes to a file under REPORTS (log_path), so the
#    suite's own checks of the error logs are not disturbed. Leak checking is
#    off here (a forking daemon exits through paths LSan cannot judge): leaks
#    are step 2's job.
# 2. valgrind: builds the same tree again without sanitizers and runs
#    tests/soak/memcheck.py: an API httpd and a gateway httpd, each
#    `apache2 -X` under memcheck, serve a scripted mix (valid, invalid and
#    forged tokens; proxied client-token requests), are stopped with SIGTERM,
#    and each log must say "ERROR SUMMARY: 0 errors" with no definitely lost
#    block. Suppressions: tests/valgrind.supp (httpd/APR/OpenSSL internals
#    only, never our frames).
#
# Exit status non-zero on any failed test, any ASan/UBSan report file, any
# valgrind error or definitely-lost block. Last line:
#   asan-httpd: N passed, M failed
# N/M: pytest's passed/failed+errors, plus one for the ASan report check and
# one for the valgrind run.
#
# Environment: CC (default gcc; clang works too), ASAN_HTTPD_DIR (work dir,
# default mktemp), ASAN_HTTPD_KEEP=1 (keep it even on success),
# ASAN_HTTPD_TESTS (default tests/httpd), ASAN_HTTPD_K (pytest -k expression,
# default "not memory_bounded": tests that measure child RSS cannot pass with
# ASan's shadow memory and quarantine; "" runs everything),
# ASAN_HTTPD_ROUNDS (memcheck rounds, default 3).
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
CC=${CC:-gcc}
MODE=all
case "${1:-}" in
  --asan-only) MODE=asan; shift ;;
  --valgrind-only) MODE=valgrind; shift ;;
esac
WORK=${ASAN_HTTPD_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/b2c-asan-httpd.XXXXXX")}
mkdir -p "$WORK"
# httpd drops to www-data, which must reach the modules and the report dir
chmod 755 "$WORK"
REPORTS=$WORK/reports
passed=0 failed=0

finish() {
  if [ "${ASAN_HTTPD_KEEP:-0}" = 1 ] || [ "$failed" -ne 0 ]; then
    echo "asan-httpd: work tree, logs and reports kept in $WORK"
  else
    rm -rf "$WORK"
  fi
  echo "asan-httpd: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit
}

copy_tree() { # DEST
  mkdir -p "$1"
  (cd "$TOP" && git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf -) | tar -xf - -C "$1"
  chmod 755 "$1"
}

build() { # DIR LOG CONFIGURE-ARGS...
  local dir=$1 log=$2; shift 2
  (cd "$dir" && autoreconf -fi && ./configure -q "$@" && make -j"$(nproc)") >"$log" 2>&1 || {
    echo "asan-httpd: build in $dir failed, last lines of $log:"
    tail -n 30 "$log"
    return 1
  }
  [ -f "$dir/mod_b2c_auth.so" ] && [ -f "$dir/mod_b2c_client.so" ]
}

# -------------------------------------------------------------------- ASan
run_asan() {
  local src=$WORK/asan log=$WORK/asan-build.log
  echo "asan-httpd: copying the tree to $src and building it (CC=$CC --enable-sanitizers)"
  copy_tree "$src"
  if ! build "$src" "$log" CC="$CC" --enable-sanitizers \
      CFLAGS="-g -O1 -fno-sanitize-recover=undefined" \
      LDFLAGS="-fsanitize=address,undefined $([ "$CC" = clang ] && echo -shared-libasan)"; then
    failed=$((failed + 1)); return
  fi
  local rt
  rt=$(ldd "$src/mod_b2c_auth.so" | awk '/libasan|libclang_rt\.asan/ {print $3; exit}')
  if [ -z "$rt" ] || [ ! -f "$rt" ]; then
    echo "asan-httpd: mod_b2c_auth.so is not linked against an ASan runtime (ldd):"
    ldd "$src/mod_b2c_auth.so"
    failed=$((failed + 1)); return
  fi
  mkdir -p "$REPORTS"
  chmod 1777 "$REPORTS"
  cat >"$WORK/apache2-asan" <<EOF
#!/bin/sh
# Debian's apache2 with the ASan runtime first in the link map (tests/asan_httpd.sh)
export LD_PRELOAD=$rt
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:log_path=$REPORTS/asan:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:detect_invalid_pointer_pairs=0\${ASAN_EXTRA:+:\$ASAN_EXTRA}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$REPORTS/ubsan"
exec ${APACHE_BIN:-/usr/sbin/apache2} "\$@"
EOF
  chmod 755 "$WORK/apache2-asan"

  echo "asan-httpd: running the httpd suite against the sanitized modules ($rt preloaded)"
  local tests=${ASAN_HTTPD_TESTS:-tests/httpd} out=$WORK/pytest.log rc=0
  local k=${ASAN_HTTPD_K-not memory_bounded}
  (cd "$TOP" && B2C_MODULE_DIR=$src APACHE_BIN=$WORK/apache2-asan \
    "$PY" -m pytest -q -p no:cacheprovider $tests ${k:+-k "$k"} "$@") 2>&1 |
    tee "$out" | tail -n 40
  rc=${PIPESTATUS[0]}
  local line p f e
  line=$(grep -E '^(=+ )?[0-9]+ (passed|failed)|^=+ .*(passed|failed|error)' "$out" | tail -1)
  p=$(grep -Eo '[0-9]+ passed' <<<"$line" | grep -Eo '[0-9]+' || echo 0)
  f=$(grep -Eo '[0-9]+ failed' <<<"$line" | grep -Eo '[0-9]+' || echo 0)
  e=$(grep -Eo '[0-9]+ errors?' <<<"$line" | grep -Eo '[0-9]+' || echo 0)
  passed=$((passed + p)); failed=$((failed + f + e))
  if [ "$rc" -ne 0 ] && [ $((f + e)) -eq 0 ]; then
    echo "asan-httpd: pytest exited $rc without a failure count"
    failed=$((failed + 1))
  fi

  local n
  n=$(find "$REPORTS" -type f | wc -l)
  if [ "$n" -gt 0 ]; then
    echo "asan-httpd: $n sanitizer report(s) in $REPORTS:"
    local r
    for r in "$REPORTS"/*; do
      echo "---- $r"
      head -n 60 "$r"
    done
    failed=$((failed + n))
  else
    echo "asan-httpd: no ASan/UBSan reports"
    passed=$((passed + 1))
  fi
}

# -------------------------------------------------------------------- valgrind
run_valgrind() {
  local src=$WORK/plain log=$WORK/plain-build.log
  command -v valgrind >/dev/null || { echo "asan-httpd: valgrind not installed"; failed=$((failed + 1)); return; }
  echo "asan-httpd: building the tree without sanitizers for valgrind in $src"
  copy_tree "$src"
  build "$src" "$log" CFLAGS="-g -O1" || { failed=$((failed + 1)); return; }
  echo "asan-httpd: valgrind memcheck of apache2 -X (API + gateway)"
  if B2C_MODULE_DIR=$src "$PY" "$TOP/tests/soak/memcheck.py" --log-dir "$WORK/valgrind" \
      --suppressions "$TOP/tests/valgrind.supp" --rounds "${ASAN_HTTPD_ROUNDS:-3}" \
      2>&1 | grep -v '^\[' | tee "$WORK/memcheck.out" | tail -n 150; [ "${PIPESTATUS[0]}" -eq 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
}

[ "$MODE" = valgrind ] || run_asan "$@"
[ "$MODE" = asan ] || run_valgrind
finish
