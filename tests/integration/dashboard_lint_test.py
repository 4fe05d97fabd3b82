#!/usr/bin/env python3
"""Static checks of the Grafana dashboard and the Prometheus rules (Python 3 stdlib only).

Dashboard (grafana/dashboards/kimera-entropy.json):
  * schemaVersion 39, fixed uid, title "Kimera Entropy Monitoring", no __inputs / ${DS_...};
  * a `datasource` variable (type datasource, query prometheus) and `job` / `instance` query
    variables (multi, includeAll);
  * every panel is timeseries / stat / heatmap / table / bargauge (rows are layout only), has a
    description and a unit, and uses the ${datasource} variable, as does each of its targets;
  * every metric selector in every expression filters on job=~"$job" and instance=~"$instance";
  * each heatmap uses a _bucket rate summed by le with format heatmap; every histogram_quantile
    aggregates with `le` in the `by`;
  * the JSON is what grafana/build_dashboard.py generates.
Dashboard and rules:
  * no expression selects a bare histogram name (histograms only through _bucket/_sum/_count);
  * every metric referenced is listed in docs/metrics.md (or is a recording rule, or `up`);
  * every alert has for, severity, summary, description (with $value), a runbook_url whose anchor
    is a section of docs/troubleshooting.md.

Exit 0 when all pass, 1 otherwise; prints one line per failure.
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.environ.get("KIMERA_SOURCE_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DASHBOARD = os.path.join(ROOT, "grafana", "dashboards", "kimera-entropy.json")
METRICS_MD = os.path.join(ROOT, "docs", "metrics.md")
TROUBLESHOOTING_MD = os.path.join(ROOT, "docs", "troubleshooting.md")
ALERTS = os.path.join(ROOT, "deploy", "rules", "alerts.yml")
RECORDING = os.path.join(ROOT, "deploy", "rules", "recording.yml")
ALLOWED_TYPES = {"timeseries", "stat", "heatmap", "table", "bargauge"}

failures = []


def fail(msg):
    failures.append(msg)


# ----------------------------------------------------------------------------- metrics reference
def load_metrics_reference():
    """{name: type} from the tables of docs/metrics.md (first column `name`, second type)."""
    ref = {}
    with open(METRICS_MD, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^\|\s*`([a-zA-Z_:][a-zA-Z0-9_:]*)`\s*\|\s*([a-z]+)\s*\|", line)
            if m:
                ref[m.group(1)] = m.group(2)
    return ref


# ----------------------------------------------------------------------------- rules (no yaml)
def load_rules(path):
    """List of dicts {alert|record, expr, for, labels, annotations} from a rules file.

    Uses PyYAML when present; otherwise a small reader for the layout these files use
    (`- alert:` / `- record:` items with `expr:` inline or as a `|` block, `labels:` and
    `annotations:` maps of scalars)."""
    try:
        import yaml  # noqa: F401
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        rules = []
        for g in doc.get("groups", []):
            rules.extend(g.get("rules", []))
        for r in rules:
            r["expr"] = str(r.get("expr", ""))
        return rules
    except ImportError:
        pass
    rules = []
    cur = None
    section = None
    block = None  # (indent, key) for `expr: |`
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for line in lines:
        if block is not None:
            if line.strip() == "" or len(line) - len(line.lstrip()) > block:
                cur["expr"] += line.strip() + "\n"
                continue
            block = None
        stripped = line.strip()
        if stripped.startswith("#") or not stripped:
            continue
        m = re.match(r"^(\s*)- (alert|record):\s*(.+)$", line)
        if m:
            cur = {m.group(2): m.group(3).strip(), "expr": "", "labels": {}, "annotations": {}}
            rules.append(cur)
            section = None
            continue
        if cur is None:
            continue
        indent = len(line) - len(line.lstrip())
        if indent <= 6:  # a group-level key (`- name:`, `rules:`, `interval:`) ends the rule
            section = None
            continue
        m = re.match(r"^\s*(expr|for|labels|annotations):\s*(.*)$", line)
        if m and indent <= 8:
            key, val = m.group(1), m.group(2).strip()
            if key == "expr":
                if val in ("|", ">", "|-", ">-"):
                    block = indent
                else:
                    cur["expr"] = val
                section = None
            elif key == "for":
                cur["for"] = val
                section = None
            else:
                section = key
            continue
        m = re.match(r"^\s*([a-z_]+):\s*(.*)$", line)
        if m and section:
            val = m.group(2).strip()
            if len(val) >= 2 and val[0] == val[-1] == '"':
                val = val[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            elif len(val) >= 2 and val[0] == val[-1] == "'":
                val = val[1:-1].replace("''", "'")
            cur[section][m.group(1)] = val
    return rules


# ----------------------------------------------------------------------------- PromQL scanning
PROMQL_WORDS = {
    "sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk", "quantile",
    "count_values", "group", "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "offset", "bool", "inf", "nan", "le",
}


def strip_strings_and_labels(expr):
    """Removes string literals, label-matcher bodies, by/without/on/ignoring label lists and
    range/offset durations so that what is left is function names and metric names."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", "{}", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1()", e)
    e = re.sub(r"\[[^\]]*\]", "[]", e)
    return e


def metric_selectors(expr):
    """Yields (metric_name, matcher_body_or_None) for every metric selector in expr."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', lambda m: "S" * len(m.group(0)), expr)  # same length
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
               lambda m: " " * len(m.group(0)), e)
    e = re.sub(r"\[[^\]]*\]", lambda m: " " * len(m.group(0)), e)
    # blank the label-matcher bodies too, remembering them
    bodies = {}
    def keep(m):
        bodies[m.start()] = expr[m.start() + 1:m.end() - 1]
        return "{" + " " * (len(m.group(0)) - 2) + "}"
    e = re.sub(r"\{[^}]*\}", keep, e)
    for m in re.finditer(r"(?<![\w:$.])([a-zA-Z_:][a-zA-Z0-9_:]*)", e):
        name = m.group(1)
        rest = e[m.end():]
        after = rest.lstrip()
        if name.lower() in PROMQL_WORDS or after.startswith("("):
            continue
        if re.fullmatch(r"\d.*|e\d+", name):
            continue
        body = None
        if after.startswith("{"):
            body = bodies.get(m.end() + (len(rest) - len(after)))
        yield name, body


def base_histogram(name, histograms):
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and name[: -len(suf)] in histograms:
            return name[: -len(suf)]
    return None


def check_expr(where, expr, ref, recorded, histograms, need_vars):
    for name, body in metric_selectors(expr):
        if name in histograms:
            fail(f"{where}: selects bare histogram name {name} (use {name}_bucket/_sum/_count)")
        known = (name in ref or name in recorded or name == "up"
                 or base_histogram(name, histograms) is not None
                 or (name.endswith(("_sum", "_count")) and ref.get(name.rsplit("_", 1)[0]) == "summary"))
        if not known:
            fail(f"{where}: metric {name} is not listed in docs/metrics.md")
        if need_vars:
            b = body or ""
            if 'job=~"$job"' not in b or 'instance=~"$instance"' not in b:
                fail(f'{where}: selector of {name} lacks job=~"$job" and instance=~"$instance"')
    # histogram_quantile must aggregate with le in the by (or use a recorded bucket rate)
    for m in re.finditer(r"histogram_quantile\s*\(", expr):
        inner = expr[m.end():]
        depth, end = 1, 0
        for i, ch in enumerate(inner):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0:
                end = i
                break
        arg = inner[:end]
        by = re.search(r"\bby\s*\(([^)]*)\)", arg)
        if by:
            if "le" not in [x.strip() for x in by.group(1).split(",")]:
                fail(f"{where}: histogram_quantile aggregates without le in the by: {arg.strip()}")
        elif not re.search(r":rate\w*", arg) and re.search(r"\b(sum|avg|max|min)\b", arg):
            fail(f"{where}: histogram_quantile aggregation without by (le): {arg.strip()}")


# ----------------------------------------------------------------------------- dashboard
def check_dashboard(ref, recorded, histograms):
    with open(DASHBOARD, encoding="utf-8") as f:
        text = f.read()
    d = json.loads(text)
    if "__inputs" in d or "${DS_" in text:
        fail("dashboard: uses __inputs / ${DS_...}, which breaks file provisioning")
    if d.get("schemaVersion") != 39:
        fail(f"dashboard: schemaVersion is {d.get('schemaVersion')}, want 39")
    if d.get("title") != "Kimera Entropy Monitoring":
        fail(f"dashboard: title is {d.get('title')!r}")
    if not d.get("uid"):
        fail("dashboard: no fixed uid")
    variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        fail("dashboard: needs a `datasource` variable of type datasource with query prometheus")
    for name in ("job", "instance"):
        v = variables.get(name)
        if not v or v.get("type") != "query" or not v.get("multi") or not v.get("includeAll"):
            fail(f"dashboard: needs a `{name}` query variable with multi and includeAll")
        elif v.get("datasource", {}).get("uid") != "${datasource}":
            fail(f"dashboard: variable {name} does not use the datasource variable")

    def all_panels(panels):
        for p in panels:
            yield p
            yield from all_panels(p.get("panels", []))

    ids = set()
    count = 0
    for p in all_panels(d.get("panels", [])):
        title = p.get("title", "?")
        where = f"panel {title!r}"
        if p.get("id") in ids:
            fail(f"{where}: duplicate id {p.get('id')}")
        ids.add(p.get("id"))
        if p.get("type") == "row":
            continue
        count += 1
        if p.get("type") not in ALLOWED_TYPES:
            fail(f"{where}: type {p.get('type')} is not one of {sorted(ALLOWED_TYPES)}")
        if not (p.get("description") or "").strip():
            fail(f"{where}: no description")
        if not p.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            fail(f"{where}: no unit in fieldConfig.defaults")
        if p.get("datasource", {}).get("uid") != "${datasource}":
            fail(f"{where}: panel datasource is not ${{datasource}}")
        targets = p.get("targets") or []
        if not targets:
            fail(f"{where}: no targets")
        for t in targets:
            tw = f"{where} target {t.get('refId')}"
            if t.get("datasource", {}).get("uid") != "${datasource}":
                fail(f"{tw}: datasource is not ${{datasource}}")
            expr = t.get("expr") or ""
            if not expr.strip():
                fail(f"{tw}: empty expr")
                continue
            check_expr(tw, expr, ref, recorded, histograms, need_vars=True)
            if p.get("type") == "heatmap":
                if t.get("format") != "heatmap":
                    fail(f"{tw}: heatmap target without format heatmap")
                if not re.search(r"sum by \(le\) \(rate\(\w+_bucket\{", expr):
                    fail(f"{tw}: heatmap must be sum by (le) (rate(X_bucket{{...}}[...]))")
    if count == 0:
        fail("dashboard: no panels")
    guide_path = os.path.join(ROOT, "docs", "dashboard.md")
    if os.path.exists(guide_path):
        with open(guide_path, encoding="utf-8") as f:
            guide = f.read()
        for p in all_panels(d.get("panels", [])):
            if p.get("type") != "row" and f"### {p.get('title')}\n" not in guide:
                fail(f"docs/dashboard.md: no section for panel {p.get('title')!r}")
    else:
        fail("docs/dashboard.md is missing")

    # every histogram that the dashboard shows has a heatmap and a quantile panel
    shown = set()
    heat = set()
    quant = set()
    for p in all_panels(d.get("panels", [])):
        for t in p.get("targets") or []:
            for name, _ in metric_selectors(t.get("expr", "")):
                h = base_histogram(name, histograms)
                if h:
                    shown.add(h)
                    if p.get("type") == "heatmap":
                        heat.add(h)
                    if "histogram_quantile" in t.get("expr", ""):
                        quant.add(h)
    for h in sorted(histograms):
        if h not in shown:
            fail(f"dashboard: histogram {h} has no panel")
        elif h not in heat or h not in quant:
            fail(f"dashboard: histogram {h} lacks its heatmap / quantile pair")

    # the JSON is the generator's output
    gen = os.path.join(ROOT, "grafana", "build_dashboard.py")
    r = subprocess.run([sys.executable, gen, "--check"], capture_output=True, text=True)
    if r.returncode != 0:
        fail("dashboard: " + (r.stderr.strip() or "out of date with build_dashboard.py"))
    return count


# ----------------------------------------------------------------------------- rules
def check_rules(ref, histograms):
    recording = load_rules(RECORDING)
    alerts = load_rules(ALERTS)
    recorded = {r["record"] for r in recording if "record" in r}
    for r in recording:
        name = r.get("record", "?")
        if not re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", name):
            fail(f"recording rule {name}: not named level:metric:operations")
        check_expr(f"recording rule {name}", r["expr"], ref, recorded, histograms, need_vars=False)
    with open(TROUBLESHOOTING_MD, encoding="utf-8") as f:
        anchors = set()
        for line in f:
            m = re.match(r"^#{2,4}\s+(.+?)\s*$", line)
            if m:
                slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
                anchors.add(slug)
    names = set()
    for r in alerts:
        name = r.get("alert", "?")
        where = f"alert {name}"
        if name in names:
            fail(f"{where}: duplicate name")
        names.add(name)
        if not re.fullmatch(r"[A-Z][a-zA-Z0-9]+", name):
            fail(f"{where}: not CamelCase")
        if not r.get("for"):
            fail(f"{where}: no `for`")
        labels = r.get("labels") or {}
        if labels.get("severity") not in ("critical", "warning", "info"):
            fail(f"{where}: severity label missing or not critical/warning/info")
        ann = r.get("annotations") or {}
        for key in ("summary", "description", "runbook_url"):
            if not ann.get(key):
                fail(f"{where}: no {key} annotation")
        if "$value" not in ann.get("description", ""):
            fail(f"{where}: description does not show $value")
        url = ann.get("runbook_url", "")
        if "docs/troubleshooting.md#" not in url:
            fail(f"{where}: runbook_url does not point into docs/troubleshooting.md")
        elif url.split("#", 1)[1] not in anchors:
            fail(f"{where}: runbook anchor #{url.split('#', 1)[1]} has no section in troubleshooting.md")
        check_expr(where, r["expr"], ref, recorded, histograms, need_vars=False)
    return recorded, len(alerts), len(recording)


def main():
    ref = load_metrics_reference()
    if not ref:
        print("FAIL: no metrics found in docs/metrics.md")
        return 1
    histograms = {n for n, t in ref.items() if t == "histogram"}
    recorded, n_alerts, n_rec = check_rules(ref, histograms)
    n_panels = check_dashboard(ref, recorded, histograms)
    for f in failures:
        print("FAIL:", f)
    print(f"checked {n_panels} panels, {n_alerts} alerts, {n_rec} recording rules against "
          f"{len(ref)} documented metrics ({len(histograms)} histograms)")
    print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
