#!/usr/bin/env python3
"""The dashboard and the rules against the real service, through a real Prometheus.

Usage: promql_live_test.py KIMERA_BINARY

Starts `kimera serve` (workload 200 ops/s, dual-write on with a legacy secondary, shadow reads and
consistency sweeps every 2 s, decay sweeps with verification every 2 s: live_serve.LIVE_CONFIG) on
a loopback port it picks itself, and the Debian `prometheus` on a free loopback port with
deploy/prometheus.yml adapted only in its addresses and intervals (scrape and evaluation every
1 s instead of 15 s; the kimera target is the serve's port) and the real rule files
(deploy/rules/*.yml, their group `interval`s set to 1 s, expressions untouched). Then:

  1. every target expression of every dashboard panel, with the dashboard variables substituted
     ($job -> kimera, $instance -> the serve's address, $__rate_interval -> 1m), returns at least
     one series through Prometheus's HTTP API, and both template variable queries find the serve;
  2. every recording rule yields data: its recorded series is queried after the rules have been
     evaluated, and its expression is also evaluated directly. The 5-minute tier fills within the
     test. The hourly (rate(...[1h])) and daily (avg_over_time(hourly[1d])) tiers cannot fill in the
     ~2 minutes the test runs: rate() needs only two samples, so they yield series already, but the
     values are extrapolations from about a minute of data. This test checks that their names and
     expressions yield series on the real metrics; their arithmetic over full windows is checked
     by promtool in tests/integration/rules/recording_test.yml;
  3. every rule evaluates without error, and no alert other than HighEntropyIdentities is pending
     or firing against the healthy service (alerts on a speed threshold, SPEED_THRESHOLDS, only
     fail when firing: a sanitizer build is slow, not faulty) (the workload's synthetic identities are high-entropy:
     their p90 is above the 4-bit threshold, so that alert is expected to be pending), and no
     decay verification check failed during the whole run (the serve's
     kimera_decay_verification_checks_total{result="fail"} is 0: an alert is looked at once);
  4. the dashboard JSON (panel targets and template variable queries) and the rule files reference
     only metrics that the serve's /metrics actually exposes (a histogram through its _bucket /
     _sum / _count series, a summary through itself, _sum, _count), recorded series, or the
     series Prometheus adds itself (`up`).

docs/metrics.md against /metrics is tests/integration/metrics_reference_test.py.
Fails when kimera serve exits with a status other than 0 or prints a sanitizer report.
Exits 77 (meson: skipped) when `prometheus` is not installed, except under CI=true, where a skip is
a failure (live_serve.skip).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import live_serve  # noqa: E402

ROOT = live_serve.ROOT
DASHBOARD = os.path.join(ROOT, "grafana", "dashboards", "kimera-entropy.json")
RULE_FILES = [os.path.join(ROOT, "deploy", "rules", f) for f in ("alerts.yml", "recording.yml")]
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                  "scrape_samples_post_metric_relabeling", "scrape_series_added"}
# Alerts a healthy serve with this workload is expected to trip (see the docstring).
EXPECTED_ACTIVE = {"HighEntropyIdentities"}
# Alerts on a speed or load threshold: a slow disk or a sanitizer build (several times slower) can
# make them pending against a healthy serve, so only their firing fails the test. Every other
# alert's condition is a real fault (an inconsistency, a failed verification, errors, a target
# down), and fails the test as soon as it is pending.
SPEED_THRESHOLDS = {"EntropyIndexingSlow", "RocksDBWriteStalled", "DualWriteRepairBacklogGrowing"}
FILL_SECONDS = 20  # samples in the 1m rate windows before the queries (20 at 1 s scrapes)


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read().decode())


def query(base, expr):
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        return get(url)
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        try:
            return json.loads(body)
        except ValueError:
            return {"status": "error", "error": f"{e}: {body[:200]}"}


def result(r):
    return r.get("data", {}).get("result", []) if r.get("status") == "success" else []


def substitute(expr, target):
    out = (expr.replace('job=~"$job"', 'job=~"kimera"')
               .replace('instance=~"$instance"', f'instance=~"{target}"')
               .replace("$__rate_interval", "1m"))
    if "$" in re.sub(r"\{\{[^}]*\}\}", "", out):
        raise ValueError(f"unsubstituted dashboard variable in {expr!r}")
    return out


def rules_from(path):
    """[(kind, name, expr)] from a rule file (the subset of YAML the rule files use)."""
    rules = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^\s*- (record|alert):\s*(\S+)\s*$", lines[i])
        if not m:
            i += 1
            continue
        kind, name = m.groups()
        expr = None
        j = i + 1
        while j < len(lines) and not re.match(r"^\s*- (record|alert):", lines[j]):
            e = re.match(r"^(\s*)expr:\s*(.*)$", lines[j])
            if e:
                if e.group(2).strip() in ("|", ">", "|-", ">-"):
                    indent = len(e.group(1))
                    body = []
                    k = j + 1
                    while k < len(lines) and (not lines[k].strip()
                                              or len(lines[k]) - len(lines[k].lstrip()) > indent):
                        body.append(lines[k].strip())
                        k += 1
                    expr = "\n".join(b for b in body if b)
                else:
                    expr = e.group(2).strip()
            j += 1
        rules.append((kind, name, expr))
        i = j
    return rules


def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


def alert_failures(active):
    """Failures for the active alerts (Prometheus's /api/v1/alerts list) of a healthy serve."""
    failures = []
    for a in active:
        name = a["labels"].get("alertname")
        if name in EXPECTED_ACTIVE:
            continue
        if name in SPEED_THRESHOLDS and a["state"] != "firing":
            print(f"note: speed alert {name} is {a['state']} (value {a.get('value')}): "
                  f"this machine or build is slow; fails only when firing")
            continue
        failures.append(f"alert {name} is {a['state']} against a healthy serve: "
                        f"{a['labels']} value {a.get('value')}")
    return failures


def start_prometheus(tmp, target):
    prom = live_serve.have_prometheus()
    prom_port = live_serve.free_port()
    os.makedirs(os.path.join(tmp, "rules"))
    for path in RULE_FILES:
        with open(path, encoding="utf-8") as src:
            text = re.sub(r"^(\s*)interval:\s*\S+", r"\1interval: 1s", src.read(), flags=re.M)
        with open(os.path.join(tmp, "rules", os.path.basename(path)), "w",
                  encoding="utf-8") as dst:
            dst.write(text)
    with open(os.path.join(ROOT, "deploy", "prometheus.yml"), encoding="utf-8") as f:
        cfg = f.read()
    for old in ("127.0.0.1:8080", "127.0.0.1:9090", "127.0.0.1:9093"):
        if old not in cfg:
            raise RuntimeError(f"deploy/prometheus.yml no longer has {old}: adapt this test")
    cfg = (cfg.replace("127.0.0.1:8080", target)
              .replace("127.0.0.1:9090", f"127.0.0.1:{prom_port}")
              .replace("127.0.0.1:9093", f"127.0.0.1:{live_serve.free_port()}"))
    cfg = re.sub(r"(scrape_interval|evaluation_interval):\s*\S+", r"\1: 1s", cfg)
    cfg = re.sub(r"scrape_timeout:\s*\S+", "scrape_timeout: 1s", cfg)
    with open(os.path.join(tmp, "prometheus.yml"), "w", encoding="utf-8") as f:
        f.write(cfg)
    log = open(os.path.join(tmp, "prometheus.log"), "w")
    proc = subprocess.Popen(
        [prom, f"--config.file={tmp}/prometheus.yml", f"--storage.tsdb.path={tmp}/data",
         f"--web.listen-address=127.0.0.1:{prom_port}"], stdout=log, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{prom_port}"


def prometheus_log(tmp):
    with open(os.path.join(tmp, "prometheus.log"), encoding="utf-8", errors="replace") as f:
        return f.read()[-3000:]


def references(exposed, recorded, where, expr):
    """Failures for metric names in `expr` that /metrics does not expose."""
    out = []
    for name in sorted(live_serve.metric_names(expr)):
        if name in exposed and exposed[name]["type"] == "histogram":
            out.append(f"{where}: selects the bare histogram name {name} (no such series)")
            continue
        if name in exposed or name in recorded or name in PROMETHEUS_OWN:
            continue
        base, _, suffix = name.rpartition("_")
        if suffix in ("bucket", "sum", "count") and base in exposed:
            kinds = {"bucket": ("histogram",), "sum": ("histogram", "summary"),
                     "count": ("histogram", "summary")}[suffix]
            if exposed[base]["type"] in kinds:
                continue
        out.append(f"{where}: references {name}, which /metrics of kimera serve does not expose")
    return out


def main(argv):
    if len(argv) != 2:
        print("usage: promql_live_test.py KIMERA_BINARY")
        return 2
    if not live_serve.have_prometheus():
        return live_serve.skip("prometheus not installed (apt-get install -y prometheus)")
    failures = []
    tmp = tempfile.mkdtemp(prefix="kimera-promql-")
    os.makedirs(os.path.join(tmp, "serve"))
    serve = live_serve.Serve(argv[1], os.path.join(tmp, "serve"), rate=200, seed=1)
    prom = None
    started = time.time()
    nan_only = []
    summary = "kimera serve or Prometheus did not start"
    try:
        serve.wait_ready()
        target = serve.target
        prom, base = start_prometheus(tmp, target)
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/-/ready", timeout=1)
                break
            except Exception:
                if time.time() > deadline or prom.poll() is not None:
                    print(prometheus_log(tmp))
                    raise RuntimeError("prometheus did not start")
                time.sleep(0.25)

        rules = [r for path in RULE_FILES for r in rules_from(path)]
        recorded = [name for kind, name, _ in rules if kind == "record"]
        if not recorded or any(expr is None for _, _, expr in rules):
            raise RuntimeError("could not read the rule files")
        # First scrape, the background sweeps on /metrics, the last (daily) tier recorded; then
        # FILL_SECONDS more so the 1m rate windows hold enough samples.
        ready_exprs = ['up{job="kimera"} == 1', "kimera_decay_verification_status",
                       "kimera_decay_age_correlation",
                       'kimera_dual_write_consistency_check_duration_seconds_count{scope="sweep"} > 0',
                       "kimera_decay_factor_by_age_band", recorded[-1]]
        deadline = time.time() + live_serve.scaled(90)
        first_up = None
        while True:
            pending = [e for e in ready_exprs if not result(query(base, e))]
            if first_up is None and ready_exprs[0] not in pending:
                first_up = time.time()
            if not pending and first_up and time.time() - first_up >= FILL_SECONDS:
                break
            if time.time() > deadline:
                failures.append(f"not ready after {live_serve.scaled(90):.0f} s, no data for: "
                                f"{pending}")
                print(prometheus_log(tmp))
                break
            if serve.proc.poll() is not None:
                failures.append("kimera serve exited: " + serve.stderr()[-2000:])
                break
            time.sleep(1)

        # 1. dashboard targets and template variables
        with open(DASHBOARD, encoding="utf-8") as f:
            dash = json.load(f)
        n_targets = 0
        exprs = []
        for p in all_panels(dash["panels"]):
            for t in p.get("targets", []) or []:
                n_targets += 1
                exprs.append((f"panel {p['title']!r} {t['refId']}", t["expr"]))
                expr = substitute(t["expr"], target)
                r = query(base, expr)
                if r.get("status") != "success":
                    failures.append(f"panel {p['title']!r} {t['refId']}: {r.get('error')}: {expr}")
                elif not result(r):
                    failures.append(f"panel {p['title']!r} {t['refId']}: no series: {expr}")
                elif all(s["value"][1] in ("NaN", "+Inf", "-Inf") for s in result(r)):
                    nan_only.append(f"{p['title']} {t['refId']}")
        for var in dash["templating"]["list"]:
            if var.get("type") != "query":
                continue
            q = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", q.strip())
            if not m:
                failures.append(f"variable {var['name']}: cannot read query {q!r}")
                continue
            exprs.append((f"variable ${var['name']}", m.group(1)))
            sel, label = m.group(1).replace('job=~"$job"', 'job=~"kimera"'), m.group(2)
            values = get(f"{base}/api/v1/label/{label}/values?"
                         + urllib.parse.urlencode({"match[]": sel})).get("data", [])
            want = {"job": "kimera", "instance": target}[label]
            if want not in values:
                failures.append(f"variable {var['name']}: {q} gives {values}, not {want}")

        # 2. recording rules: the recorded series and the expression itself
        for kind, name, expr in rules:
            if kind != "record":
                continue
            if not result(query(base, name)):
                failures.append(f"recording rule {name}: recorded series has no data")
            r = query(base, expr)
            if not result(r):
                failures.append(f"recording rule {name}: expression gives no series "
                                f"({r.get('error', 'empty')}): {expr}")

        # 3. rule health and alerts against the healthy service
        groups = get(base + "/api/v1/rules")["data"]["groups"]
        n_alerts = 0
        for g in groups:
            for rule in g["rules"]:
                if rule.get("health") != "ok":
                    failures.append(f"rule {rule.get('name')}: health {rule.get('health')}: "
                                    f"{rule.get('lastError')}")
                if rule["type"] == "alerting":
                    n_alerts += 1
        active = get(base + "/api/v1/alerts")["data"]["alerts"]
        failures += alert_failures(active)
        # An alert is looked at once; a decay verification that failed and passed again
        # between two looks shows only in the serve's own counter of failed checks.
        exposed_now = live_serve.parse_exposition(serve.scrape())
        decay_checks = exposed_now.get("kimera_decay_verification_checks_total")
        failed_checks = sum(v for _, labels, v in (decay_checks["samples"] if decay_checks else [])
                            if labels.get("result") == "fail")
        if decay_checks is None or failed_checks:
            failures.append(f"decay verification: {failed_checks} failed checks during the run "
                            f"(kimera_decay_verification_checks_total{{result=\"fail\"}})")

        # 4. names in the dashboard and the rules against what /metrics exposes
        exposed = {n: f for n, f in live_serve.parse_exposition(serve.scrape()).items()}
        for where, expr in exprs:
            failures += references(exposed, set(recorded), f"dashboard {where}", expr)
        for kind, name, expr in rules:
            failures += references(exposed, set(recorded), f"{kind} rule {name}", expr)

        summary = (f"kimera serve at {target}, Prometheus at {base}; queried {n_targets} "
                   f"dashboard targets, {len(recorded)} recording rules, {n_alerts} alert rules "
                   f"({len(active)} active: "
                   f"{sorted({a['labels']['alertname'] for a in active})}); {len(exposed)} "
                   f"families on /metrics; {time.time() - started:.0f} s")
    except RuntimeError as e:  # serve or Prometheus did not start, or the rules did not parse
        failures.append(str(e))
    finally:
        if prom is not None:
            prom.terminate()
            try:
                prom.wait(timeout=10)
            except subprocess.TimeoutExpired:
                prom.kill()
        failures += serve.finish()
        shutil.rmtree(tmp, ignore_errors=True)
    for f in failures:
        print("FAIL:", f)
    if nan_only:
        print(f"note: {len(nan_only)} targets return only NaN so far (no observations in the "
              f"window, e.g. errors or failures that never happen): " + "; ".join(nan_only))
    print(summary)
    print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
