#!/usr/bin/env bash
# The crash loop, the disk-fault and power-loss tests, and the reliability
# table of their results (docs/reliability.md explains every row).
#
#   scripts/crash_loop.sh            30 cycles per dual-write secondary (legacy
#                                    column families, then a second database),
#                                    disk faults, power cuts; prints the table
#   scripts/crash_loop.sh --long     300 cycles per secondary
#   scripts/crash_loop.sh --cycles N --seed N
#   scripts/crash_loop.sh --report   no run: the table of the last
#                                    `meson test --suite reliability` run, the
#                                    last scripts/fuzz.sh and scripts/sanitize.sh
#                                    (what .ci/run prints at its end)
#
# KIMERA_BUILD_DIR picks the build folder (default build; built when missing).
# Exit status: non-zero when any cycle lost or diverged a write, a check
# failed, or a disk fault or a power cut was not survived.
set -euo pipefail
cd "$(dirname "$0")/.."

build="${KIMERA_BUILD_DIR:-build}"
cycles=30
seed=20240607
report_only=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --long) cycles=300 ;;
    --cycles) cycles="$2"; shift ;;
    --seed) seed="$2"; shift ;;
    --report) report_only=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "crash_loop.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

crash_summary="$build/tests/reliability/crash_loop_summary.json"
disk_summary="$build/tests/reliability/disk_faults_summary.json"
power_summary="$build/tests/reliability/power_loss_summary.json"
status=0
if [[ $report_only == 0 ]]; then
  if [[ ! -x "$build/cli/kimera" || ! -x "$build/tests/reliability/disk_full_test" ||
        ! -x "$build/tests/reliability/power_loss_test" ]]; then
    if [[ -f "$build/build.ninja" ]]; then ninja -C "$build"; else ./scripts/setup.sh; fi
  fi
  mkdir -p "$build/tests/reliability"
  python3 tests/reliability/crash_loop.py "$build/cli/kimera" --cycles "$cycles" --seed "$seed" \
    --summary "$crash_summary" || status=1
  rc=0
  python3 tests/reliability/disk_faults_test.py "$build/cli/kimera" \
    "$build/tests/reliability/disk_full_test" --summary "$disk_summary" || rc=$?
  if [[ $rc == 77 ]]; then rm -f "$disk_summary"; elif [[ $rc != 0 ]]; then status=1; fi
  "$build/tests/reliability/power_loss_test" -- --seed "$seed" --summary "$power_summary" ||
    status=1
fi

python3 - "$crash_summary" "$disk_summary" "$cycles" "${KIMERA_FUZZ_BUILD_DIR:-build-fuzz}/fuzz-summary.txt" \
  build-asan/sanitize-summary.txt "$power_summary" <<'EOF' || status=1
import json, os, re, sys
crash_path, disk_path, cycles, fuzz_path, sanitize_path, power_path = sys.argv[1:7]
rows = []
ok = True
if os.path.exists(crash_path):
    c = json.load(open(crash_path))
    t = c["total"]
    per = c["cycles_per_mode"]
    cmd = "scripts/crash_loop.sh" + (" --long" if per == 300 else f" --cycles {per}" if per != 30 else "")
    rows += [
        ("Crash cycles survived (SIGKILL, dual-write legacy + second database)",
         f"{t['cycles'] if c['ok'] else t['cycles'] - t['failures']} / {t['cycles']}", cmd),
        ("Writes acknowledged (ack log, fdatasync per ack)", str(t["acknowledged"]), cmd),
        ("Acknowledged writes lost", str(t["lost"]), cmd),
        ("Divergences (primary vs secondary, index vs data)", str(t["diverged"]), cmd),
        ("In-flight ops at the kill: landed / not landed",
         f"{t['inflight_landed']} / {t['inflight_not_landed']}", cmd),
    ]
    ok = ok and c["ok"]
else:
    rows.append(("Crash cycles survived", "not run", "scripts/crash_loop.sh"))
    ok = False
if os.path.exists(disk_path):
    d = json.load(open(disk_path))
    rows.append(("Disk faults injected / survived (full tmpfs x3, read-only folder)",
                 f"{d['faults']} / {d['survived']}",
                 "meson test -C build disk_faults"))
    ok = ok and d["ok"]
else:
    rows.append(("Disk faults injected / survived", "not run here (or skipped: no tmpfs)",
                 "meson test -C build disk_faults"))
    # In CI every test runs (a skip fails there), so a missing summary means it did not.
    ok = ok and os.environ.get("CI", "").lower() not in ("true", "1")
if os.path.exists(power_path):
    p = json.load(open(power_path))
    cmd = "meson test -C build power_loss"
    if "sync_writes_true" in p:
        t = p["sync_writes_true"]["total"]
        rows.append(("Power cuts survived, sync_writes = true: acknowledged lost",
                     f"{t['lost']} of {t['acknowledged']:,} ({t['cuts']} cuts, "
                     f"{t['failures']} failed checks)", cmd))
        ok = ok and p["sync_writes_true"]["ok"]
    if "sync_writes_false" in p:
        t = p["sync_writes_false"]["total"]
        rows.append(("Power cuts, sync_writes = false: lost after last sync / lost before it",
                     f"{t['lost_after_sync']:,} / {t['lost_before_sync']} ({t['cuts']} cuts, "
                     f"{t['acknowledged']:,} acknowledged, at most {t['max_lost_per_cut']} "
                     f"per cut, {t['holes']} holes, {t['dual_write_differences']} dual-write "
                     f"differences)", cmd))
        ok = ok and p["sync_writes_false"]["ok"]
else:
    rows.append(("Power cuts survived (sync_writes = true / false)", "not run here",
                 "meson test -C build power_loss"))
    ok = ok and os.environ.get("CI", "").lower() not in ("true", "1")
# Fuzzing and sanitizers: their scripts' summary lines, when they ran here
# (these rows only report; the scripts fail the CI themselves).
if os.path.exists(fuzz_path):
    text = open(fuzz_path).read()
    total = re.search(r"fuzz total: (\d+) executions, (\d+) targets, (\d+) s each", text)
    findings = sum(int(n) for n in re.findall(r"findings (\d+)", text))
    if total:
        rows.append((f"Fuzz executions / findings ({total.group(2)} libFuzzer targets, "
                     f"{total.group(3)} s each)", f"{int(total.group(1)):,} / {findings}",
                     f"scripts/fuzz.sh {total.group(3)}"))
for line in open(sanitize_path).read().splitlines() if os.path.exists(sanitize_path) else []:
    m = re.match(r"sanitize (.+?): (\d+) +tests ok, (\d+) +failed, (\d+) sanitizer reports, "
                 r"(\d+) s run, build (\d+) s", line)
    if m:
        which = "asan" if m.group(1).startswith("asan") else "tsan"
        rows.append((f"Sanitizer {m.group(1).split(' (')[0]}: tests ok / failed / reports",
                     f"{m.group(2)} / {m.group(3)} / {m.group(4)} "
                     f"(run {m.group(5)} s, build {m.group(6)} s)",
                     f"scripts/sanitize.sh {which}"))
width = max(len(r[0]) for r in rows)
vwidth = max(len(r[1]) for r in rows)
print()
print("Reliability table (see docs/reliability.md)")
print(f"| {'Measure'.ljust(width)} | {'Result'.ljust(vwidth)} | Reproduce |")
print(f"|{'-' * (width + 2)}|{'-' * (vwidth + 2)}|-----------|")
for name, value, cmd in rows:
    print(f"| {name.ljust(width)} | {value.ljust(vwidth)} | `{cmd}` |")
sys.exit(0 if ok else 1)
EOF
exit $status
