#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz and runs
# each one for SECONDS_PER_TARGET seconds (default 15) from its seed corpus in
# fuzz/corpus/<target>/. Prints executions and findings per target and
# writes them to build-fuzz/fuzz-summary.txt. Exit 1 when any target found a
# crash, a leak, a timeout or an out-of-memory; the input is kept in
# build-fuzz/artifacts/<target>/. Fix the bug, then copy the input to
# fuzz/regressions/<target>/ so `meson test --suite fuzz` replays it.
#
#   scripts/fuzz.sh            # 15 s per target, about 1 minute plus the build
#   scripts/fuzz.sh 600        # a longer run
#   FUZZ_TARGETS="index_key" scripts/fuzz.sh 30
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${1:-15}
BUILD_DIR=${KIMERA_FUZZ_BUILD_DIR:-build-fuzz}
TARGETS=(${FUZZ_TARGETS:-identity_json record_codec config_toml index_key legacy_row})

# The packages (clang among them) come from scripts/packages.txt.
if ! command -v clang++ >/dev/null || ! command -v meson >/dev/null; then ./scripts/setup.sh; fi

if [[ ! -f $BUILD_DIR/build.ninja ]]; then
  CXX=clang++ CC=clang meson setup "$BUILD_DIR" -Dfuzz=true -Dbuildtype=debugoptimized \
    -Db_sanitize=address,undefined -Db_lundef=false \
    "-Dcpp_args=-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined" >/dev/null
fi
start=$(date +%s)
ninja -C "$BUILD_DIR" "${TARGETS[@]/#/fuzz/fuzz_}" >/dev/null
echo "fuzz build: $(($(date +%s) - start)) s"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

summary=$BUILD_DIR/fuzz-summary.txt
: >"$summary"
failed=0
total_execs=0
for target in "${TARGETS[@]}"; do
  work=$BUILD_DIR/corpus/$target
  artifacts=$BUILD_DIR/artifacts/$target
  log=$BUILD_DIR/fuzz-$target.log
  mkdir -p "$work" "$artifacts"
  rm -f "$artifacts"/*
  rc=0
  "$BUILD_DIR/fuzz/fuzz_$target" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 \
    -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "$work" "fuzz/corpus/$target" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [[ -z $execs ]]; then
    execs=$(grep -Eo '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1 |
      grep -Eo '[0-9]+' || echo 0)
  fi
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  corpus=$(find "$work" -type f | wc -l)
  findings=$(find "$artifacts" -type f | wc -l)
  if ((rc != 0 && findings == 0)); then findings=1; fi
  total_execs=$((total_execs + ${execs:-0}))
  line=$(printf 'fuzz %-14s %10s executions  %6s exec/s  corpus %5s  findings %s' \
    "$target" "${execs:-0}" "${speed:-?}" "$corpus" "$findings")
  echo "$line" | tee -a "$summary"
  if ((findings > 0)); then
    failed=1
    grep -E 'ERROR|FUZZ_CHECK|SUMMARY|Test unit written' "$log" | head -8 | sed 's/^/    /'
    ls "$artifacts" | sed "s|^|    input: $artifacts/|"
  fi
done
echo "fuzz total: $total_execs executions, ${#TARGETS[@]} targets, ${SECONDS_PER_TARGET} s each" |
  tee -a "$summary"
if ((failed)); then
  echo "fuzz: FAILED (logs in $BUILD_DIR/fuzz-<target>.log)"
  exit 1
fi
echo "fuzz: no findings"
