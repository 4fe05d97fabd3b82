#!/usr/bin/env bash
# Runs the tests under the sanitizers:
#  1. AddressSanitizer + UndefinedBehaviorSanitizer: the whole project built in
#     build-asan, every default test suite (except `slow`) run by meson.
#  2. ThreadSanitizer: the concurrency suites (many threads storing, querying,
#     sweeping and scraping at once) built in build-tsan: plugin entropy_index,
#     entropy_store, metrics_endpoint; storage rocksdb_store; dual_write.
# Any sanitizer report fails the test that printed it (halt_on_error), so a
# passing run has zero reports. Prints one summary line per run and writes
# them to build-asan/sanitize-summary.txt.
#
#   scripts/sanitize.sh            # both
#   scripts/sanitize.sh asan       # or: tsan
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${1:-asan tsan}
# The packages come from scripts/packages.txt.
if ! command -v meson >/dev/null || ! dpkg -s librocksdb-dev >/dev/null 2>&1; then ./scripts/setup.sh; fi

# Debian 12's sanitizer runtimes predate the kernels' larger mmap
# randomisation; without ASLR their shadow-memory layout always fits.
norandom=()
if setarch "$(uname -m)" -R true 2>/dev/null; then norandom=(setarch "$(uname -m)" -R); fi

summary_lines=()
status=0

run_suites() {  # NAME BUILD_DIR LOG -- meson test arguments...
  local name=$1 dir=$2 log=$3
  shift 3
  local start rc=0
  start=$(date +%s)
  "${norandom[@]}" meson test -C "$dir" --no-rebuild --print-errorlogs "$@" >"$log" 2>&1 || rc=$?
  local secs=$(($(date +%s) - start))
  local ok fail reports
  ok=$(sed -n 's/^Ok: *//p' "$log" | tail -1)
  fail=$(sed -n 's/^Fail: *//p' "$log" | tail -1)
  reports=$(grep -hcE '^(==[0-9]+==ERROR: |WARNING: ThreadSanitizer|SUMMARY: (Address|Undefined|Thread)Sanitizer|.*runtime error: )' \
    "$log" "$dir"/meson-logs/testlog.txt 2>/dev/null | awk '{s += $1} END {print s + 0}')
  local line="sanitize $name: ${ok:-0} tests ok, ${fail:-0} failed, $reports sanitizer reports, ${secs} s run, build ${BUILD_SECS} s"
  echo "$line"
  summary_lines+=("$line")
  if ((rc != 0 || reports != 0)); then
    status=1
    grep -E 'ERROR|WARNING: ThreadSanitizer|runtime error|SUMMARY|^[0-9]+/[0-9]+ .*FAIL' "$log" |
      head -20 | sed 's/^/    /'
    echo "    full log: $log"
  fi
}

if [[ " $RUNS " == *" asan "* ]]; then
  if [[ ! -f build-asan/build.ninja ]]; then
    meson setup build-asan -Dbuildtype=debugoptimized -Db_sanitize=address,undefined \
      -Db_lundef=false >/dev/null
  fi
  start=$(date +%s)
  ninja -C build-asan >/dev/null
  BUILD_SECS=$(($(date +%s) - start))
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # The children a test starts (the kimera program, crash helpers) inherit
  # these, so their reports fail the test as well.
  run_suites "asan+ubsan (all suites but slow)" build-asan build-asan/sanitize-asan.log \
    --no-suite slow --num-processes 2 --timeout-multiplier 4
  unset ASAN_OPTIONS UBSAN_OPTIONS
fi

if [[ " $RUNS " == *" tsan "* ]]; then
  if [[ ! -f build-tsan/build.ninja ]]; then
    meson setup build-tsan -Dbuildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false \
      >/dev/null
  fi
  start=$(date +%s)
  ninja -C build-tsan tests/plugin/plugin_tests tests/plugin/plugin_crash_child \
    tests/storage_adapter/storage_adapter_tests tests/dual_write/dual_write_tests >/dev/null
  BUILD_SECS=$(($(date +%s) - start))
  # RocksDB, prometheus-cpp and civetweb are not built with TSan: their own
  # internal synchronisation is invisible to it, so reports whose stacks are
  # inside them are suppressed. Reports in project code are not.
  cat >build-tsan/tsan.supp <<'SUPP'
race:librocksdb.so
called_from_lib:librocksdb.so
race:libprometheus-cpp-pull.so
race:libprometheus-cpp-core.so
called_from_lib:libprometheus-cpp-pull.so
SUPP
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/build-tsan/tsan.supp"
  run_suites "tsan (concurrency suites)" build-tsan build-tsan/sanitize-tsan.log \
    --num-processes 2 --timeout-multiplier 4 \
    entropy_index entropy_store metrics_endpoint rocksdb_store dual_write_store consistency
  unset TSAN_OPTIONS
fi

mkdir -p build-asan
printf '%s\n' "${summary_lines[@]}" >build-asan/sanitize-summary.txt
if ((status)); then
  echo "sanitize: FAILED"
  exit 1
fi
echo "sanitize: zero reports"
