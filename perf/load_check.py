#!/usr/bin/env python3
"""Load check of /metrics (issue 7): scrapes while identities are stored.

Usage: load_check.py KIMERA_BINARY [--rate OPS] [--scrapers N] [--scrape-seconds S]
                                   [--phase-seconds S]

Starts `kimera serve` on a loopback port it picks itself, with its built-in workload at --rate
operations per second (default 2000: the workload's mix is 52 % stores, new geoids, new scars and
re-stores, so about 1,040 identities stored per second; the rest are reads, queries, removes and
decay applications), dual-write off, decay sweeps off, metrics on. After a warm-up it alternates
phases of --phase-seconds (default 10 s) without and with --scrapers (default 10) threads that
each GET /metrics back to back (a new connection per scrape: the exposer closes it after each
answer), until the scrapers have run for
--scrape-seconds (default 30 s) in total: quiet, scraped, quiet, scraped, quiet, scraped, quiet.

The store rate of each phase comes from the server: the delta of
kimera_identity_operations_total{operation_type="store"} (summed over identity types) between one
scrape at the start and one at the end of the phase, over the phase's wall time. Scrape latency is
measured by the client, from sending the request to reading the whole answer.

Prints scrape p50 / p99 (ms), the store rate with and without scrapers, and PASS / MISS for the
targets of the plan: scrape p99 < 100 ms, store rate with scrapers within 5 % of the rate without.
Exits 0 when both pass, 1 when one is missed (so `meson test --benchmark` shows it), 2 on error.
Python 3 standard library only.
"""
import argparse
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

CONFIG = """\
[storage]
path = "{db}"

[metrics]
enabled = true
bind_address = "127.0.0.1"
port = 0

[decay]
sweep_interval_seconds = 0

[dual_write]
enabled = false
"""
OVERRIDES = ("KIMERA_CONFIG", "KIMERA_METRICS_ENABLED", "KIMERA_METRICS_PORT",
             "KIMERA_METRICS_DETAILED", "KIMERA_ID_DUAL_WRITE")
STORE = re.compile(r'^kimera_identity_operations_total\{[^}]*operation_type="store"[^}]*\}\s+(\S+)',
                   re.M)
SERVER_QUANTILE = re.compile(r'^exposer_request_latencies\{quantile="([^"]+)"\}\s+(\S+)', re.M)


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


class Scraper(threading.Thread):
    def __init__(self, port, stop, latencies, errors):
        super().__init__(daemon=True)
        self.port, self.stop, self.latencies, self.errors = port, stop, latencies, errors

    def run(self):
        # One connection per scrape: the exposer (civetweb) closes the connection after each
        # answer, so the connect is part of every scrape, as it is for Prometheus.
        mine = []
        while not self.stop.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                t0 = time.perf_counter()
                conn.request("GET", "/metrics")
                resp = conn.getresponse()
                resp.read()
                mine.append(time.perf_counter() - t0)
                if resp.status != 200:
                    self.errors.append(f"HTTP {resp.status}")
            except (OSError, http.client.HTTPException) as e:
                self.errors.append(repr(e))
            finally:
                conn.close()
        self.latencies.extend(mine)


def scrape(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def stores(text):
    return sum(float(v) for v in STORE.findall(text))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("kimera")
    ap.add_argument("--rate", type=float, default=2000)
    ap.add_argument("--scrapers", type=int, default=10)
    ap.add_argument("--scrape-seconds", type=float, default=30)
    ap.add_argument("--phase-seconds", type=float, default=10)
    ap.add_argument("--warmup-seconds", type=float, default=5)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="kimera-loadcheck-")
    config = os.path.join(tmp, "kimera.toml")
    with open(config, "w", encoding="utf-8") as f:
        f.write(CONFIG.format(db=os.path.join(tmp, "db")))
    env = {k: v for k, v in os.environ.items() if k not in OVERRIDES}
    err_path = os.path.join(tmp, "serve.err")
    with open(err_path, "w") as err, open(os.devnull, "w") as out:
        proc = subprocess.Popen([args.kimera, "--config", config, "serve", "--workload",
                                 str(args.rate), "--seed", "1"], stdout=out, stderr=err, env=env)

    def stderr():
        with open(err_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    try:
        port = None
        deadline = time.time() + 60
        while port is None:
            if proc.poll() is not None or time.time() > deadline:
                print("ERROR: kimera serve did not start:\n" + stderr())
                return 2
            m = re.search(r"metrics at http://127\.0\.0\.1:(\d+)/metrics", stderr())
            if m:
                port = int(m.group(1))
            time.sleep(0.1)
        while True:
            try:
                scrape(port)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    print("ERROR: /metrics did not answer:\n" + stderr())
                    return 2
                time.sleep(0.1)
        time.sleep(args.warmup_seconds)

        scraped_phases = max(1, round(args.scrape_seconds / args.phase_seconds))
        plan = []
        for _ in range(scraped_phases):
            plan += [False, True]
        plan.append(False)
        quiet_rates, loaded_rates, latencies, errors = [], [], [], []
        size = len(scrape(port).encode())
        print(f"kimera serve: workload {args.rate:g} ops/s, /metrics {size} bytes; "
              f"{len(plan)} phases of {args.phase_seconds:g} s, {args.scrapers} scrapers in "
              f"{scraped_phases} of them")
        for loaded in plan:
            stop = threading.Event()
            phase_latencies = []
            threads = [Scraper(port, stop, phase_latencies, errors)
                       for _ in range(args.scrapers if loaded else 0)]
            t0 = time.perf_counter()
            s0 = stores(scrape(port))
            for t in threads:
                t.start()
            time.sleep(args.phase_seconds)
            stop.set()
            for t in threads:
                t.join()
            s1 = stores(scrape(port))
            elapsed = time.perf_counter() - t0
            rate = (s1 - s0) / elapsed
            (loaded_rates if loaded else quiet_rates).append(rate)
            latencies += phase_latencies
            extra = ""
            if loaded:
                ls = sorted(phase_latencies)
                extra = (f", {len(ls)} scrapes ({len(ls) / elapsed:.0f}/s), "
                         f"p50 {percentile(ls, 0.5) * 1000:.1f} ms, "
                         f"p99 {percentile(ls, 0.99) * 1000:.1f} ms")
            print(f"  phase {'scraped' if loaded else 'quiet  '}: {rate:7.1f} stores/s{extra}")
            if proc.poll() is not None:
                print("ERROR: kimera serve exited:\n" + stderr())
                return 2

        text = scrape(port)
        server_q = {q: float(v) / 1000 for q, v in SERVER_QUANTILE.findall(text)}
        latencies.sort()
        p50 = percentile(latencies, 0.5) * 1000
        p99 = percentile(latencies, 0.99) * 1000
        quiet = sum(quiet_rates) / len(quiet_rates)
        loaded = sum(loaded_rates) / len(loaded_rates)
        change = (loaded - quiet) / quiet * 100 if quiet else float("nan")
        p99_ok = p99 < 100
        rate_ok = abs(change) <= 5
        print(f"scrapes: {len(latencies)} in {scraped_phases * args.phase_seconds:g} s by "
              f"{args.scrapers} threads, {len(errors)} errors"
              + (f" (first: {errors[0]})" if errors else ""))
        print(f"scrape latency (client): p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
              f"max {latencies[-1] * 1000 if latencies else float('nan'):.1f} ms")
        if server_q:
            print("scrape latency (server, exposer_request_latencies): "
                  + ", ".join(f"p{float(q) * 100:g} {v:.1f} ms" for q, v in sorted(server_q.items())))
        print(f"store rate: without scrapers {quiet:.1f}/s, with scrapers {loaded:.1f}/s "
              f"({change:+.1f} %)")
        print(f"{'PASS' if p99_ok else 'MISS'}: scrape p99 {p99:.1f} ms < 100 ms")
        print(f"{'PASS' if rate_ok else 'MISS'}: store rate with scrapers within 5 % "
              f"({change:+.1f} %)")
        if quiet < 0.95 * 1000:
            print(f"note: the store rate without scrapers ({quiet:.0f}/s) is below the 1,000/s "
                  f"the check asks for: raise --rate or use a less loaded machine")
        if errors:
            return 1
        return 0 if p99_ok and rate_ok else 1
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
