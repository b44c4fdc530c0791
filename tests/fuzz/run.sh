#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build and run the libFuzzer targets of common/ (ASan + UBSan + LSan).
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60 (0: build only); TARGETs (e.g.
# "jwks validate") default to all. Each target runs on a throw-away copy of corpus/TARGET, so the
# checked-in seeds never grow. Any crash, leak, UB report, timeout or OOM
# fails the target; the exit status is non-zero when any target failed.
#
# Environment:
#   FUZZ_BUILD_DIR  build and work directory (default tests/fuzz/build)
#   FUZZ_JOBS       targets run side by side (default: number of CPUs, max 4)
#   CC              a clang with libFuzzer (default clang)
# Reproduce a failure:  $FUZZ_BUILD_DIR/fuzz_TARGET ARTIFACT_FILE
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
SECS=${1:-60}
shift || true
BUILD=${FUZZ_BUILD_DIR:-$HERE/build}
CC=${CC:-clang}
JOBS=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
[ "$JOBS" -gt 4 ] && JOBS=4
[ "$JOBS" -ge 1 ] || JOBS=1

case $SECS in ''|*[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2; exit 2;; esac

# target  max_len  dictionary
TARGETS=(
  "b64url          4096   -"
  "json            8192   json.dict"
  "jwks           16384   json.dict"
  "discovery       8192   json.dict"
  "jwt_parse      20000   jwt.dict"
  "validate       20000   json.dict"
  "token_response  8192   json.dict"
  "authority       1024   -"
  "bearer          4096   -"
  "claims          8192   json.dict"
  "url             1024   -"
)
# shared-cache entries, once common/ has them
[ -f "$TOP/common/b2c_cache_entry.h" ] && TARGETS+=("cache_entry     4096   -")
TARGETS+=("seal            4096   -")

selected=("$@")
want() {
  [ ${#selected[@]} -eq 0 ] && return 0
  local s; for s in "${selected[@]}"; do [ "$s" = "$1" ] && return 0; done
  return 1
}

for t in "${selected[@]}"; do
  printf '%s\n' "${TARGETS[@]}" | awk '{print $1}' | grep -qx "$t" \
    || { echo "unknown target: $t" >&2; exit 2; }
done

# ---------------------------------------------------------------- build
command -v "$CC" >/dev/null || { echo "$CC not found (apt-get install clang)" >&2; exit 2; }
DEPS_CFLAGS="$(apr-1-config --cppflags --cflags --includes) $(apu-1-config --includes) \
$(pkg-config --cflags jansson libcrypto libcurl)"
DEPS_LIBS="$(apr-1-config --link-ld --libs) $(apu-1-config --link-ld --libs) \
$(pkg-config --libs jansson libcrypto libcurl) -lm -ldl"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-g -O1 -fno-omit-frame-pointer $SAN -fsanitize=fuzzer-no-link -DFZ_POOL_MALLOC \
-Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
-I$TOP/common -I$HERE $DEPS_CFLAGS"

mkdir -p "$BUILD/obj"
echo "fuzz: building in $BUILD"
headers=("$TOP"/common/*.h "$HERE"/*.h)
flags_stamp="$BUILD/obj/flags"
if [ ! -f "$flags_stamp" ] || [ "$(cat "$flags_stamp")" != "$CC $CFLAGS" ]; then
  rm -f "$BUILD"/obj/*.o
fi
echo "$CC $CFLAGS" > "$flags_stamp"

# compile SRC OBJ: when OBJ is older than SRC or any header
compile() {
  local src=$1 obj=$2 h
  if [ -f "$obj" ]; then
    local stale=0
    [ "$src" -nt "$obj" ] && stale=1
    for h in "${headers[@]}"; do [ "$h" -nt "$obj" ] && stale=1; done
    [ $stale -eq 0 ] && return 0
  fi
  # shellcheck disable=SC2086
  $CC $CFLAGS -c "$src" -o "$obj"
}

build_failed() {
  echo "fuzz: build failed"
  echo "fuzz: 0 passed, $(printf '%s\n' "${TARGETS[@]}" | awk '{print $1}' | while read -r n; do want "$n" && echo; done | wc -l) failed"
  exit 1
}
pids=()
run_bg() { # at most JOBS jobs at once
  "$@" & pids+=($!)
  if [ ${#pids[@]} -ge "$JOBS" ]; then wait "${pids[0]}" || build_failed; pids=("${pids[@]:1}"); fi
}
# The httpd-free core: common/*.c except files that (or whose header)
# include httpd's headers, which are built into the modules instead.
core_srcs=()
for src in "$TOP"/common/*.c; do
  hdr=${src%.c}.h
  [ -f "$hdr" ] || hdr=/dev/null
  grep -qE '#[[:space:]]*include[[:space:]]*[<"](httpd|http_[a-z_]+|ap_[a-z_]+|util_[a-z_]+|mod_[a-z_]+)\.h[>"]' \
    "$src" "$hdr" || core_srcs+=("$src")
done
objs=()
for src in "${core_srcs[@]}" "$HERE/fuzz_common.c" "$HERE/fuzz_keys.c"; do
  obj="$BUILD/obj/$(basename "${src%.c}").o"
  objs+=("$obj")
  run_bg compile "$src" "$obj"
done
for t in "${TARGETS[@]}"; do
  read -r name _ _ <<<"$t"; want "$name" || continue
  run_bg compile "$HERE/fuzz_$name.c" "$BUILD/obj/fuzz_$name.main.o"
done
for pid in "${pids[@]}"; do wait "$pid" || build_failed; done
pids=()
for t in "${TARGETS[@]}"; do
  read -r name _ _ <<<"$t"; want "$name" || continue
  # shellcheck disable=SC2086
  run_bg $CC $SAN -fsanitize=fuzzer -o "$BUILD/fuzz_$name" "$BUILD/obj/fuzz_$name.main.o" \
    "${objs[@]}" $DEPS_LIBS
done
# the seed generator (not run here; see mkseeds.c): no libFuzzer, no hooks
seed_objs=()
for o in "${objs[@]}"; do [ "${o##*/}" = fuzz_common.o ] || seed_objs+=("$o"); done
compile "$HERE/mkseeds.c" "$BUILD/obj/mkseeds.main.o" || build_failed
# shellcheck disable=SC2086
run_bg $CC $SAN -o "$BUILD/mkseeds" "$BUILD/obj/mkseeds.main.o" "${seed_objs[@]}" $DEPS_LIBS
for pid in "${pids[@]}"; do wait "$pid" || build_failed; done
if [ "$SECS" -eq 0 ]; then echo "fuzz: built (0 seconds: nothing run)"; exit 0; fi

# ---------------------------------------------------------------- run
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

# run_target NAME MAXLEN DICT: writes $BUILD/work/NAME/{log,summary}
run_target() {
  local name=$1 maxlen=$2 dict=$3 w="$BUILD/work/$1" rc=0 why
  rm -rf "$w"; mkdir -p "$w/corpus" "$w/artifacts"
  if [ -d "$HERE/corpus/$name" ]; then cp -R "$HERE/corpus/$name/." "$w/corpus/"; fi
  local args=(-max_total_time="$SECS" -max_len="$maxlen" -rss_limit_mb=2048
              -timeout=20 -print_final_stats=1 -artifact_prefix="$w/artifacts/")
  [ "$dict" != "-" ] && args+=(-dict="$HERE/$dict")
  "$BUILD/fuzz_$name" "${args[@]}" "$w/corpus" >"$w/log" 2>&1 || rc=$?
  local execs cov corp
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$w/log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$w/log" | tail -1 | awk '{print $2}')
  corp=$(find "$w/corpus" -type f | wc -l)
  if [ $rc -eq 0 ] && ! grep -q 'runtime error:\|ERROR: \(Address\|Leak\)Sanitizer' "$w/log"; then
    printf '  %-15s ok    %8s execs  cov %-5s corpus %s\n' "$name" "${execs:-?}" "${cov:-?}" "$corp" \
      >"$w/summary"
  else
    why=other
    grep -q 'FUZZ CHECK FAILED' "$w/log" && why=invariant
    grep -q 'runtime error:' "$w/log" && why=undefined-behaviour
    grep -q 'ERROR: AddressSanitizer' "$w/log" && why=$(grep -o 'ERROR: AddressSanitizer: [a-z-]*' "$w/log" | head -1 | awk '{print $3}')
    grep -q 'ERROR: LeakSanitizer' "$w/log" && why=leak
    grep -q 'ALARM: working on the last Unit' "$w/log" && why=timeout
    grep -q 'out-of-memory' "$w/log" && why=out-of-memory
    local art
    art=$(find "$w/artifacts" -type f | head -1)
    printf '  %-15s FAIL  %s (exit %s)%s log: %s\n' "$name" "$why" "$rc" \
      "${art:+ reproducer: $art}" "$w/log" >"$w/summary"
  fi
}

# never let one target's trouble stop the others or the summary
try_target() { run_target "$@" || true; }

echo "fuzz: running ${SECS}s per target, $JOBS at a time"
pids=()
names=()
for t in "${TARGETS[@]}"; do
  read -r name maxlen dict <<<"$t"; want "$name" || continue
  names+=("$name")
  run_bg try_target "$name" "$maxlen" "$dict"
done
for pid in "${pids[@]}"; do wait "$pid"; done

passed=0 failed=0
for n in "${names[@]}"; do
  [ -f "$BUILD/work/$n/summary" ] ||
    printf '  %-15s FAIL  no result (see %s)\n' "$n" "$BUILD/work/$n/log" >"$BUILD/work/$n/summary"
  cat "$BUILD/work/$n/summary"
  if grep -q ' ok ' "$BUILD/work/$n/summary"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
