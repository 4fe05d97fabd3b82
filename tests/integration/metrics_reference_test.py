#!/usr/bin/env python3
"""docs/metrics.md against what the real `kimera serve` exposes on /metrics.

Usage: metrics_reference_test.py KIMERA_BINARY

Starts `kimera serve` with a workload, dual-write on (legacy secondary) and decay sweeps every 2 s
(tests/integration/live_serve.py: LIVE_CONFIG), waits until every family docs/metrics.md lists as
always present is exposed and a dual-write consistency sweep and a store have been counted (or
fails after 90 s, scaled by KIMERA_TEST_TIME_SCALE, naming what is missing), and fails when
  * /metrics has a family (kimera_ or the exporter's exposer_) that docs/metrics.md does not list;
  * docs/metrics.md lists a metric that /metrics does not expose (unless its meaning starts with
    **Conditional**);
  * the type differs (a summary documented as a gauge, ...);
  * a series carries a label the row does not list, or lacks one it lists (labels documented as
    conditional, e.g. `identity_id (detailed mode only)`, may be absent);
  * a label whose values the row lists in backticks shows a value not listed, or a listed value
    is missing (every known label value is created at start);
  * a histogram's `le` boundaries differ from the buckets column (when it is a plain list);
  * kimera serve exits with a status other than 0 or prints a sanitizer report.
"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import live_serve  # noqa: E402

IMPLICIT = {"histogram": {"le"}, "summary": {"quantile"}}


# What the background work exposes only after its first run, beyond the families themselves.
AFTER_FIRST_RUNS = (
    ("kimera_dual_write_consistency_check_duration_seconds", "a dual-write sweep has run",
     lambda s, l, v: s.endswith("_count") and l.get("scope") == "sweep" and v > 0),
    ("kimera_identity_operations_total", "the workload has stored",
     lambda s, l, v: l.get("operation_type") == "store" and v > 0),
)


def check(families, ref):
    failures = []
    for name, fam in sorted(families.items()):
        if not name.startswith(("kimera_", "exposer_")):
            continue
        row = ref.get(name)
        if row is None:
            failures.append(f"/metrics exposes {name} ({fam['type']}), docs/metrics.md does not "
                            f"list it")
            continue
        if row["type"] != fam["type"]:
            failures.append(f"{name}: /metrics type {fam['type']}, docs/metrics.md says "
                            f"{row['type']}")
        implicit = IMPLICIT.get(fam["type"], set())
        documented = set(row["labels"]) - implicit
        required = {k for k in documented if not row["labels"][k]["conditional"]}
        seen_values = {}
        les = {}
        extra, missing = set(), set()
        for series, labels, _ in fam["samples"]:
            keys = set(labels) - implicit
            extra |= keys - documented
            missing |= required - keys
            for k, v in labels.items():
                seen_values.setdefault(k, set()).add(v)
            if fam["type"] == "histogram" and series == name + "_bucket":
                key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
                les.setdefault(key, set()).add(float(labels["le"]))
        if extra:
            failures.append(f"{name}: series carry label(s) {sorted(extra)} docs/metrics.md does "
                            f"not list")
        if missing:
            failures.append(f"{name}: series lack documented label(s) {sorted(missing)}")
        for label, spec in row["labels"].items():
            if spec["values"] is None:
                continue
            documented_values = set(spec["values"])
            seen = seen_values.get(label, set())
            if label == "quantile":  # exposition writes 0.5, docs may too; compare as numbers
                seen = {float(v) for v in seen}
                documented_values = {float(v) for v in documented_values}
            if seen - documented_values:
                failures.append(f"{name}: label {label} has value(s) "
                                f"{sorted(map(str, seen - documented_values))} not listed in "
                                f"docs/metrics.md")
            if documented_values - seen:
                failures.append(f"{name}: documented {label} value(s) "
                                f"{sorted(map(str, documented_values - seen))} not on /metrics")
        if row["buckets"] and fam["type"] == "histogram":
            want = set(row["buckets"])
            for key, got in sorted(les.items()):
                if got != want:
                    failures.append(
                        f"{name}{dict(key)}: buckets on /metrics "
                        f"{sorted(got - want)} not documented, documented {sorted(want - got)} "
                        f"not on /metrics")
    for name, row in sorted(ref.items()):
        if name not in families and not row["conditional"]:
            failures.append(f"docs/metrics.md lists {name} ({row['section']}), /metrics does not "
                            f"expose it (mark it **Conditional** if that is expected)")
    return failures


def main(argv):
    if len(argv) != 2:
        print("usage: metrics_reference_test.py KIMERA_BINARY")
        return 2
    ref = live_serve.parse_reference()
    if not ref:
        print("FAIL: no metrics found in docs/metrics.md")
        return 1
    tmp = tempfile.mkdtemp(prefix="kimera-metricsref-")
    serve = live_serve.Serve(argv[1], tmp, rate=200, seed=3)
    failures = []
    try:
        serve.wait_ready()
        # Wait for what is asserted: every family the reference lists as always present, plus a
        # first dual-write sweep and store (the labels and values checked below).
        always = [name for name, row in ref.items() if not row["conditional"]]
        families, missing = live_serve.wait_for_families(serve, always, AFTER_FIRST_RUNS)
        if missing:
            failures.append(f"still missing from /metrics after {live_serve.scaled(90):.0f} s: "
                            f"{', '.join(missing)}")
        failures += check(families, ref)
    finally:
        failures += serve.finish()
        shutil.rmtree(tmp, ignore_errors=True)
    exposed = sorted(n for n in families if n.startswith(("kimera_", "exposer_")))
    for f in failures:
        print("FAIL:", f)
    print(f"/metrics of kimera serve at {serve.target}: {len(exposed)} families, "
          f"{sum(len(families[n]['samples']) for n in exposed)} samples; docs/metrics.md: "
          f"{len(ref)} metrics ({sum(r['conditional'] for r in ref.values())} conditional)")
    print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
