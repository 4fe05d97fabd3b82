#!/usr/bin/env python3
"""Load check of /metrics (issue 7): do scrapes slow the stores of a serving process?

Usage: load_check.py KIMERA_BINARY [--rate STORES] [--mix stores|full] [--scrapers N]
                                   [--scrape-seconds S] [--phase-seconds S] [--warmup-seconds S]

Starts `kimera serve --workload RATE --workload-mix stores` on a loopback port it picks itself:
every workload operation is a store (new geoids, re-stores with changed terms, new scars, in the
proportions of the full mix), paced at --rate (default 1000) stores per second; dual-write off,
decay sweeps off, metrics on. (`--mix full` runs the full operation mix instead, where only about
half of the operations are stores: the store rate is then about half the rate.)

After a warm-up it alternates phases of --phase-seconds (default 5 s) without and with --scrapers
(default 10) threads that each GET /metrics back to back over loopback (a new connection per
scrape: the exposer closes it after each answer, as Prometheus sees it), until the scrapers have
run for --scrape-seconds (default 30 s): quiet, scraped, quiet, ..., scraped, quiet. Interleaving
A and B in one run keeps a noisy machine's drift out of the comparison.

Everything about the stores comes from the process's own metrics, as deltas between a scrape at
the start and one at the end of each phase: the store rate from
kimera_identity_operations_total{operation_type="store"}, the store latency from the
kimera_storage_operations_duration_seconds histogram of operation_type="store" (mean from _sum /
_count, p99 interpolated in the buckets as histogram_quantile does), both summed over identity
types and pooled over the phases of each side. The serve process's CPU comes from
/proc/PID/stat (utime + stime). Scrape latency is measured by the client, from sending the
request to reading the whole answer.

The store rate is paced at --rate, so it shows a stall only once the stores need more than the
whole second: it is printed but not judged. The judgement is on what a scrape does to a store
while the rate is met: its latency (a scrape that holds a lock a store needs, or takes the CPU
from the storing thread, makes stores slower long before it makes them fewer) and the serve
process's CPU per scrape (a scrape whose work grows with the store).

Prints one line per phase, then a table with both sides and their ratio and PASS / MISS for the
targets: stores reach the requested rate without scrapers (>= 95 %: else there was no load to
judge), scrape p99 < 100 ms (the plan's bound), mean store latency with scrapers <= 2x the mean
without, store p99 with scrapers <= 3x the p99 without, serve CPU per scrape < 2 ms.
Exits 0 when all pass, 1 when one is missed, 2 on error. Python 3 standard library only.
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
STORE_SUM = re.compile(
    r'^kimera_storage_operations_duration_seconds_sum\{[^}]*operation_type="store"[^}]*\}\s+(\S+)',
    re.M)
STORE_COUNT = re.compile(
    r'^kimera_storage_operations_duration_seconds_count\{[^}]*operation_type="store"[^}]*\}\s+(\S+)',
    re.M)
STORE_BUCKET = re.compile(
    r'^kimera_storage_operations_duration_seconds_bucket\{([^}]*operation_type="store"[^}]*)\}'
    r'\s+(\S+)', re.M)
LE = re.compile(r'le="([^"]+)"')
SERVER_QUANTILE = re.compile(r'^exposer_request_latencies\{quantile="([^"]+)"\}\s+(\S+)', re.M)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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
        self.bytes = 0

    def run(self):
        mine = []
        while not self.stop.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                t0 = time.perf_counter()
                conn.request("GET", "/metrics")
                resp = conn.getresponse()
                self.bytes += len(resp.read())
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


def total(pattern, text):
    return sum(float(v) for v in pattern.findall(text))


def buckets(text):
    """Cumulative store-latency bucket counts by upper bound, summed over label sets."""
    out = {}
    for labels, value in STORE_BUCKET.findall(text):
        le = float(LE.search(labels).group(1))
        out[le] = out.get(le, 0.0) + float(value)
    return out


def bucket_delta(a, b):
    return {le: b[le] - a.get(le, 0.0) for le in b}


def bucket_sum(deltas):
    out = {}
    for d in deltas:
        for le, v in d.items():
            out[le] = out.get(le, 0.0) + v
    return out


def histogram_quantile(q, cumulative):
    """As PromQL's histogram_quantile: linear within the bucket holding the rank."""
    bounds = sorted(cumulative)
    if not bounds or cumulative[bounds[-1]] <= 0:
        return float("nan")
    rank = q * cumulative[bounds[-1]]
    lower, below = 0.0, 0.0
    for le in bounds:
        if cumulative[le] >= rank:
            if le == float("inf"):
                return lower
            inside = cumulative[le] - below
            return lower + (le - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = le, cumulative[le]
    return lower


def ratio(a, b):
    return a / b if b else float("nan")


def cpu_seconds(pid):
    """User + system CPU seconds of the process so far (all its threads)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Sample:
    def __init__(self, port, pid):
        text = scrape(port)
        self.time = time.perf_counter()
        self.stores = total(STORE, text)
        self.store_seconds = total(STORE_SUM, text)
        self.store_count = total(STORE_COUNT, text)
        self.buckets = buckets(text)
        self.cpu = cpu_seconds(pid)
        own = os.times()
        self.client_cpu = own.user + own.system


def mean(values):
    return sum(values) / len(values) if values else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("kimera")
    ap.add_argument("--rate", type=float, default=1000,
                    help="workload operations per second (with --mix stores: stores per second)")
    ap.add_argument("--mix", choices=("stores", "full"), default="stores")
    ap.add_argument("--scrapers", type=int, default=10)
    ap.add_argument("--scrape-seconds", type=float, default=30)
    ap.add_argument("--phase-seconds", type=float, default=5)
    ap.add_argument("--warmup-seconds", type=float, default=5)
    args = ap.parse_args()
    # The store rate the run must reach without scrapers (the full mix stores 53 % of operations).
    wanted = args.rate if args.mix == "stores" else args.rate * 0.53

    tmp = tempfile.mkdtemp(prefix="kimera-loadcheck-")
    config = os.path.join(tmp, "kimera.toml")
    with open(config, "w", encoding="utf-8") as f:
        f.write(CONFIG.format(db=os.path.join(tmp, "db")))
    env = {k: v for k, v in os.environ.items() if k not in OVERRIDES}
    err_path = os.path.join(tmp, "serve.err")
    command = [args.kimera, "--config", config, "serve", "--workload", f"{args.rate:g}",
               "--workload-mix", args.mix, "--seed", "1"]
    with open(err_path, "w") as err, open(os.devnull, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=err, env=env)

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
        plan = [False, True] * scraped_phases + [False]
        size = len(scrape(port).encode())
        print(f"load check: kimera serve --workload {args.rate:g} --workload-mix {args.mix} "
              f"({wanted:g} stores/s asked), /metrics {size} bytes; {len(plan)} interleaved "
              f"phases of {args.phase_seconds:g} s, {args.scrapers} scrapers in {scraped_phases}")
        # (loaded, stores/s, mean store ms, serve CPU %, scrape latencies, client CPU %,
        #  store-latency bucket deltas, store seconds, stores timed, serve CPU s, elapsed s)
        phases = []
        latencies, errors = [], []
        for loaded in plan:
            stop = threading.Event()
            phase_latencies = []
            threads = [Scraper(port, stop, phase_latencies, errors)
                       for _ in range(args.scrapers if loaded else 0)]
            a = Sample(port, proc.pid)
            for t in threads:
                t.start()
            time.sleep(args.phase_seconds)
            stop.set()
            for t in threads:
                t.join()
            b = Sample(port, proc.pid)
            elapsed = b.time - a.time
            rate = (b.stores - a.stores) / elapsed
            count = b.store_count - a.store_count
            store_ms = (b.store_seconds - a.store_seconds) / count * 1000 if count else float("nan")
            cpu = (b.cpu - a.cpu) / elapsed * 100
            client_cpu = (b.client_cpu - a.client_cpu) / elapsed * 100
            delta = bucket_delta(a.buckets, b.buckets)
            phases.append((loaded, rate, store_ms, cpu, phase_latencies, client_cpu, delta,
                           b.store_seconds - a.store_seconds, count, b.cpu - a.cpu, elapsed))
            latencies += phase_latencies
            extra = ""
            if loaded:
                ls = sorted(phase_latencies)
                extra = (f", {len(ls)} scrapes ({len(ls) / elapsed:.0f}/s), "
                         f"p50 {percentile(ls, 0.5) * 1000:.1f} ms, "
                         f"p99 {percentile(ls, 0.99) * 1000:.1f} ms")
            print(f"  phase {'scraped' if loaded else 'quiet  '}: {rate:7.1f} stores/s, "
                  f"store mean {store_ms:.3f} ms p99 "
                  f"{histogram_quantile(0.99, delta) * 1000:.3f} ms, CPU serve {cpu:3.0f} % scrapers "
                  f"{client_cpu:3.0f} %{extra}", flush=True)
            if proc.poll() is not None:
                print("ERROR: kimera serve exited:\n" + stderr())
                return 2

        text = scrape(port)
        server_q = {q: float(v) / 1000 for q, v in SERVER_QUANTILE.findall(text)}
        # Each scraped phase against the mean of the quiet phases on either side of it.
        pairs = []
        for i, (loaded, rate, *_rest) in enumerate(phases):
            if loaded:
                pairs.append((rate, (phases[i - 1][1] + phases[i + 1][1]) / 2))
        loaded_rate = mean([p[0] for p in pairs])
        quiet_rate = mean([p[1] for p in pairs])
        change = (loaded_rate - quiet_rate) / quiet_rate * 100 if quiet_rate else float("nan")
        latencies.sort()
        p50 = percentile(latencies, 0.5) * 1000
        p99 = percentile(latencies, 0.99) * 1000
        rate_reached = quiet_rate >= 0.95 * wanted
        p99_ok = p99 < 100
        quiet = [p for p in phases if not p[0]]
        loaded = [p for p in phases if p[0]]
        # Pooled over each side's phases: every store weighs the same.
        quiet_ms = ratio(sum(p[7] for p in quiet), sum(p[8] for p in quiet)) * 1000
        loaded_ms = ratio(sum(p[7] for p in loaded), sum(p[8] for p in loaded)) * 1000
        quiet_p99 = histogram_quantile(0.99, bucket_sum(p[6] for p in quiet)) * 1000
        loaded_p99 = histogram_quantile(0.99, bucket_sum(p[6] for p in loaded)) * 1000
        quiet_cpu = ratio(sum(p[9] for p in quiet), sum(p[10] for p in quiet)) * 100
        loaded_cpu = ratio(sum(p[9] for p in loaded), sum(p[10] for p in loaded)) * 100
        client_cpu = mean([p[5] for p in loaded])
        # The serve CPU the scrapes added, over the scrapes answered.
        extra_cpu = sum(p[9] - quiet_cpu / 100 * p[10] for p in loaded)
        cpu_per_scrape = ratio(extra_cpu, len(latencies)) * 1000
        mean_ratio = ratio(loaded_ms, quiet_ms)
        p99_ratio = ratio(loaded_p99, quiet_p99)
        # 2x the mean: the stores' own CPU contention with lowered scrape threads stays well
        # under it (1.6x on 2 busy cores); scrape threads at the stores' priority (3x) or a
        # scrape holding a lock a store needs exceed it. p99 is coarser (buckets 2.5x apart).
        mean_ok = mean_ratio <= 2.0
        store_p99_ok = p99_ratio <= 3.0
        # ~0.9 ms for the ~700 series of the default exposition (docs/performance-tuning.md).
        cpu_ok = cpu_per_scrape < 2.0

        def verdict(ok):
            return "PASS" if ok else "MISS"

        rows = [
            ("scrape latency p50 (client)", f"{p50:.1f} ms", "", ""),
            ("scrape latency p99 (client)", f"{p99:.1f} ms", "< 100 ms", verdict(p99_ok)),
            ("store rate without scrapers", f"{quiet_rate:.1f} /s", f">= {0.95 * wanted:g} /s",
             verdict(rate_reached)),
            (f"store rate with {args.scrapers} scrapers (paced: not judged)",
             f"{loaded_rate:.1f} /s ({change:+.1f} %)", "", ""),
            ("store latency mean, without -> with scrapers",
             f"{quiet_ms:.3f} -> {loaded_ms:.3f} ms = {mean_ratio:.2f}x", "<= 2x",
             verdict(mean_ok)),
            ("store latency p99, without -> with scrapers",
             f"{quiet_p99:.3f} -> {loaded_p99:.3f} ms = {p99_ratio:.2f}x", "<= 3x",
             verdict(store_p99_ok)),
            ("serve CPU, without -> with scrapers",
             f"{quiet_cpu:.0f} -> {loaded_cpu:.0f} % = {ratio(loaded_cpu, quiet_cpu):.2f}x", "", ""),
            ("serve CPU per scrape", f"{cpu_per_scrape:.2f} ms", "< 2 ms", verdict(cpu_ok)),
        ]
        print(f"scrapes: {len(latencies)} in {scraped_phases * args.phase_seconds:g} s by "
              f"{args.scrapers} threads, {len(errors)} errors"
              + (f" (first: {errors[0]})" if errors else "")
              + f"; max {latencies[-1] * 1000 if latencies else float('nan'):.1f} ms")
        if server_q:
            print("scrape latency (server, exposer_request_latencies, whole run): "
                  + ", ".join(f"p{float(q) * 100:g} {v:.1f} ms" for q, v in sorted(server_q.items())))
        print(f"scraper threads (this script): {client_cpu:.0f} % of a core")
        width = max(len(r[0]) for r in rows)
        vwidth = max(len(r[1]) for r in rows)
        print(f"| {'measure':<{width}} | {'value':>{vwidth}} | {'target':<10} | result |")
        print(f"|{'-' * (width + 2)}|{'-' * (vwidth + 2)}|{'-' * 12}|--------|")
        for name, value, target, result in rows:
            print(f"| {name:<{width}} | {value:>{vwidth}} | {target:<10} | {result:<6} |")
        if not rate_reached:
            print(f"note: without scrapers the workload stored {quiet_rate:.0f}/s of the "
                  f"{wanted:g}/s asked: the machine is too busy for the rate (store mean "
                  f"{quiet_ms:.3f} ms); the latency and CPU compare what it did reach")
        if errors:
            return 1
        return 0 if rate_reached and p99_ok and mean_ok and store_p99_ok and cpu_ok else 1
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
