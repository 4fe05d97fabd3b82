#!/usr/bin/env python3
"""Runs every dashboard expression, every recording rule and every alert expression through a
real Prometheus (Debian package `prometheus`), on loopback with free ports.

By default Prometheus scrapes a stand-in exporter started here that serves every metric listed in
docs/metrics.md with every documented label value (counters and histograms moving between
scrapes), so this checks the PromQL of the dashboard and the rules before `kimera serve` exists.
With KIMERA_LIVE_TARGET=host:port it scrapes that target instead (a running `kimera serve`).

Checks: Prometheus loads deploy/prometheus.yml and its rules (intervals shortened to 1 s); every
dashboard target (variables substituted) returns at least one series; every recording rule yields
data; every alert expression evaluates without error.
Exits 77 (meson: skipped) when `prometheus` is not installed.
"""
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.environ.get("KIMERA_SOURCE_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# label values the metrics reference gives in prose rather than as a list
DEFAULT_VALUES = {
    "identity_type": ["geoid", "scar", "other"],
    "operation": ["store", "remove"],
    "version": ["0.0.0-test"],
    "operation_type": ["store", "fetch", "remove", "list", "count", "find_by_entropy", "scan",
                       "apply_decay", "sync", "check", "dual_write_verify", "dual_write_repair",
                       "dual_write_stats"],
}
GAUGE_VALUES = {  # plausible constant values for gauges
    "kimera_decay_verification_status": 1,
    "kimera_dual_write_consistent": 1,
    "kimera_decay_age_correlation": 0.9999,
    "kimera_build_info": 1,
    "kimera_rocksdb_write_stalled": 0,
    "kimera_entropy_index_inconsistencies": 0,
}


def parse_reference():
    """[(name, type, {label: [values]})] from docs/metrics.md."""
    out = []
    with open(os.path.join(ROOT, "docs", "metrics.md"), encoding="utf-8") as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 3 or not re.fullmatch(r"`[a-z_:][a-z0-9_:]*`", cells[0]):
                continue
            name, mtype, labels_cell = cells[0].strip("`"), cells[1], cells[2]
            labels = {}
            if labels_cell not in ("—", "-", ""):
                # "a (`x`, `y`), b" -> {a: [x, y], b: default}
                for m in re.finditer(r"([a-z_]+)(?:\s*\(([^)]*)\))?", labels_cell):
                    label, vals = m.group(1), m.group(2)
                    if label in ("in", "only", "detailed", "mode", "identity_id"):
                        continue
                    values = re.findall(r"`([^`]+)`", vals or "")
                    labels[label] = values or DEFAULT_VALUES.get(label, ["x"])
            out.append((name, mtype, labels))
    return out


def combos(labels):
    keys = sorted(labels)
    result = [{}]
    for k in keys:
        result = [dict(c, **{k: v}) for c in result for v in labels[k]]
    return result


def fmt_labels(d):
    if not d:
        return ""
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(d.items())) + "}"


class FakeExporter:
    """Serves the documented metrics; every scrape adds observations."""

    def __init__(self, reference):
        self.reference = reference
        self.scrapes = 0
        self.lock = threading.Lock()

    def render(self):
        with self.lock:
            self.scrapes += 1
            n = self.scrapes
        lines = []
        for name, mtype, labels in self.reference:
            if name == "exposer_request_latencies":
                lines.append(f"# TYPE {name} summary")
                for q in ("0.5", "0.9", "0.99"):
                    lines.append(f'{name}{{quantile="{q}"}} 850')
                lines.append(f"{name}_sum {850 * n}")
                lines.append(f"{name}_count {n}")
                continue
            lines.append(f"# TYPE {name} {mtype}")
            for c in combos(labels):
                if mtype == "counter":
                    lines.append(f"{name}{fmt_labels(c)} {3 * n}")
                elif mtype == "gauge":
                    if name.endswith("_timestamp_seconds"):
                        v = time.time()
                    elif name == "kimera_decay_factor_by_age_band":
                        v = 0.5
                    else:
                        v = GAUGE_VALUES.get(name, 7)
                    lines.append(f"{name}{fmt_labels(c)} {v}")
                elif mtype == "histogram":
                    # 4 observations per scrape: two in the 2nd bucket, two in the 3rd
                    for i, le in enumerate(["0.001", "0.5", "1", "+Inf"]):
                        cum = [0, 2, 4, 4][i] * n
                        lines.append(f"{name}_bucket{fmt_labels(dict(c, le=le))} {cum}")
                    lines.append(f"{name}_sum{fmt_labels(c)} {2.0 * n}")
                    lines.append(f"{name}_count{fmt_labels(c)} {4 * n}")
        return "\n".join(lines) + "\n"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read().decode())


def query(base, expr):
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        return get(url)
    except urllib.error.HTTPError as e:
        return json.loads(e.read().decode() or "{}") or {"status": "error", "error": str(e)}


def substitute(expr):
    return (expr.replace('job=~"$job"', 'job=~"kimera"')
                .replace('instance=~"$instance"', 'instance=~".+"')
                .replace("$__rate_interval", "1m"))


def rule_names(path, kind):
    with open(path, encoding="utf-8") as f:
        return re.findall(rf"^\s*- {kind}:\s*(\S+)\s*$", f.read(), re.M)


def main():
    prom = shutil.which("prometheus")
    if not prom:
        print("prometheus not installed (apt-get install -y prometheus): skipped")
        return 77
    reference = parse_reference()
    failures = []
    tmp = tempfile.mkdtemp(prefix="kimera-promql-")
    procs = []
    server = None
    try:
        target = os.environ.get("KIMERA_LIVE_TARGET")
        if not target:
            exporter = FakeExporter(reference)

            class Handler(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    body = exporter.render().encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain; version=0.0.4")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

                def log_message(self, *args):
                    pass

            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            target = f"127.0.0.1:{server.server_port}"

        prom_port = free_port()
        os.makedirs(os.path.join(tmp, "rules"))
        for f in ("alerts.yml", "recording.yml"):
            with open(os.path.join(ROOT, "deploy", "rules", f), encoding="utf-8") as src:
                text = re.sub(r"^(\s*)interval:\s*\S+", r"\1interval: 1s", src.read(), flags=re.M)
            with open(os.path.join(tmp, "rules", f), "w", encoding="utf-8") as dst:
                dst.write(text)
        with open(os.path.join(ROOT, "deploy", "prometheus.yml"), encoding="utf-8") as f:
            cfg = f.read()
        cfg = (cfg.replace("127.0.0.1:8080", target)
                  .replace("127.0.0.1:9090", f"127.0.0.1:{prom_port}")
                  .replace("127.0.0.1:9093", f"127.0.0.1:{free_port()}"))
        cfg = re.sub(r"(scrape_interval|evaluation_interval):\s*15s", r"\1: 1s", cfg)
        cfg = re.sub(r"scrape_timeout:\s*10s", "scrape_timeout: 1s", cfg)
        with open(os.path.join(tmp, "prometheus.yml"), "w", encoding="utf-8") as f:
            f.write(cfg)
        log = open(os.path.join(tmp, "prometheus.log"), "w")
        procs.append(subprocess.Popen(
            [prom, f"--config.file={tmp}/prometheus.yml", f"--storage.tsdb.path={tmp}/data",
             f"--web.listen-address=127.0.0.1:{prom_port}"], stdout=log, stderr=subprocess.STDOUT))
        base = f"http://127.0.0.1:{prom_port}"
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/-/ready", timeout=1)
                break
            except Exception:
                if time.time() > deadline or procs[0].poll() is not None:
                    with open(os.path.join(tmp, "prometheus.log")) as f:
                        print(f.read()[-3000:])
                    print("FAIL: prometheus did not start")
                    return 1
                time.sleep(0.25)
        # wait for scrapes and a few rule evaluations (the daily tier reads the hourly tier)
        deadline = time.time() + 60
        recorded = rule_names(os.path.join(ROOT, "deploy", "rules", "recording.yml"), "record")
        while time.time() < deadline:
            r = query(base, 'count(up{job="kimera"} == 1)')
            have = r.get("data", {}).get("result", [])
            last = recorded[-1]
            if have and query(base, last).get("data", {}).get("result"):
                break
            time.sleep(1)
        time.sleep(4)

        with open(os.path.join(ROOT, "grafana", "dashboards", "kimera-entropy.json"),
                  encoding="utf-8") as f:
            dash = json.load(f)
        n_targets = 0

        def panels(ps):
            for p in ps:
                yield p
                yield from panels(p.get("panels", []))

        for p in panels(dash["panels"]):
            for t in p.get("targets", []) or []:
                n_targets += 1
                expr = substitute(t["expr"])
                r = query(base, expr)
                if r.get("status") != "success":
                    failures.append(f"panel {p['title']!r} {t['refId']}: {r.get('error')}: {expr}")
                elif not r["data"]["result"]:
                    failures.append(f"panel {p['title']!r} {t['refId']}: no series: {expr}")
        for name in recorded:
            r = query(base, name)
            if r.get("status") != "success" or not r["data"]["result"]:
                failures.append(f"recording rule {name}: no data")
        rules = get(base + "/api/v1/rules")["data"]["groups"]
        n_alerts = 0
        for g in rules:
            for rule in g["rules"]:
                if rule.get("health") != "ok":
                    failures.append(f"rule {rule.get('name')}: health {rule.get('health')}: "
                                    f"{rule.get('lastError')}")
                if rule["type"] == "alerting":
                    n_alerts += 1
        if os.environ.get("KIMERA_LIVE_TARGET"):
            print(f"scraped live target {target}")
        for f in failures:
            print("FAIL:", f)
        print(f"queried {n_targets} dashboard targets, {len(recorded)} recording rules, "
              f"{n_alerts} alert rules through Prometheus at {base}")
        print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
        return 1 if failures else 0
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if server:
            server.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
