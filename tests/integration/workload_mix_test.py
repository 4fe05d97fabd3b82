#!/usr/bin/env python3
"""`kimera serve --workload RATE --workload-mix stores` stores and does nothing else: every
operation of the workload is a store, so RATE is the store rate the load check (perf/) asks for.

Runs the real serve (dual-write and decay sweeps off, so nothing else operates on the store) for a
short workload, then reads /metrics: kimera_identity_operations_total has stores, the fetches of
re-stores (a re-store reads the identity it changes; never more fetches than stores) and the one
scan that samples the ids already stored at start, nothing else; and the stores counted equal the
operations the workload reports when it stops.
Python 3 standard library only.
"""
import re
import shutil
import sys
import tempfile
import time

import live_serve

# The live tests' configuration without the background work: no decay sweeps, no dual-write.
CONFIG = (live_serve.LIVE_CONFIG.split("[decay]")[0]
          + "[decay]\nsweep_interval_seconds = 0\n\n[dual_write]\nenabled = false\n")


def main():
    folder = tempfile.mkdtemp(prefix="kimera-workload-mix-")
    serve = live_serve.Serve(sys.argv[1], folder, 200, config_text=CONFIG,
                             extra_args=("--workload-mix", "stores", "--workload-duration", "2"))
    failures = []
    by_operation = {}
    try:
        serve.wait_ready()
        deadline = time.time() + live_serve.scaled(60)
        while "workload finished" not in serve.stderr():
            if time.time() > deadline or serve.proc.poll() is not None:
                raise RuntimeError("the workload did not finish:\n" + serve.stderr())
            time.sleep(0.2)
        families = live_serve.parse_exposition(serve.scrape())
        by_operation = {}
        for _, labels, value in families["kimera_identity_operations_total"]["samples"]:
            op = labels.get("operation_type")
            by_operation[op] = by_operation.get(op, 0) + value
        stores = by_operation.get("store", 0)
        others = {op: n for op, n in by_operation.items()
                  if op not in ("store", "fetch", "scan") and n > 0}
        if stores <= 0:
            failures.append(f"no stores counted: {by_operation}")
        if others:
            failures.append(f"operations other than stores: {others}")
        if by_operation.get("fetch", 0) >= stores:
            failures.append(f"more fetches than stores: {by_operation}")
        if by_operation.get("scan", 0) > 1:
            failures.append(f"scans beyond the start-up sample: {by_operation}")
        failures += serve.finish()
        m = re.search(r"kimera serve: (\d+) operations", serve.stderr())
        if not m:
            failures.append("no operation count in serve's last lines:\n" + serve.stderr())
        elif int(m.group(1)) != by_operation.get("store", 0):
            failures.append(f"workload reported {m.group(1)} operations, /metrics "
                            f"{by_operation.get('store', 0):g} stores")
        if "workload errors" in serve.stderr():
            failures.append("workload errors:\n" + serve.stderr())
    finally:
        if serve.proc.returncode is None:  # an exception before finish() above
            failures += serve.finish()
        shutil.rmtree(folder, ignore_errors=True)
    for f in failures:
        print("FAIL:", f)
    print(f"stores only: {by_operation.get('store', 0):g} stores, "
          f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
