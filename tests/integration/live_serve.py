"""Helpers shared by the live integration tests: start the real `kimera serve`, scrape and parse
/metrics, read the tables of docs/metrics.md.

Python 3 standard library only. Not a test on its own.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

ROOT = os.environ.get("KIMERA_SOURCE_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
METRICS_MD = os.path.join(ROOT, "docs", "metrics.md")

# The configuration both live tests run with: dual-write on (legacy secondary in the same
# database), background consistency sweeps, shadow reads and inline checks, and decay sweeps with
# verification every 2 s, so every documented metric family is exposed within seconds.
LIVE_CONFIG = """\
[storage]
path = "{db}"

[metrics]
enabled = true
bind_address = "127.0.0.1"
port = 0

[decay]
sweep_interval_seconds = 2
verification_sample = 200

[dual_write]
enabled = true
secondary = "legacy"
mode = "strict"
inline_sample_rate = 0.1
shadow_read_rate = 0.1
sweep_interval_seconds = 2
"""

# Environment variables that override the configuration file; the tests set everything there.
OVERRIDES = ("KIMERA_CONFIG", "KIMERA_METRICS_ENABLED", "KIMERA_METRICS_PORT",
             "KIMERA_METRICS_DETAILED", "KIMERA_ID_DUAL_WRITE")


# Lines of a sanitizer report (ASan, LSan, UBSan, TSan) in a program's stderr: the header, the
# summary, and the frames of its stacks.
SANITIZER_LINE = re.compile(r"==\d+==ERROR: |WARNING: ThreadSanitizer|runtime error: |"
                            r"^SUMMARY: \w+Sanitizer|^\s+#\d+ 0x")


def skip(reason):
    """The exit status of a test that cannot run here: 77 (meson: skipped), except under CI=true,
    where scripts/setup.sh has installed everything the tests need and a skip would only hide a
    test that never ran: there it is a failure."""
    if os.environ.get("CI", "").lower() in ("true", "1"):
        print(f"FAIL: {reason}; under CI=true a skip is a failure")
        return 1
    print(f"{reason}: skipped")
    return 77


def time_scale():
    """How much slower than the release build this run is allowed to be: scripts/sanitize.sh sets
    KIMERA_TEST_TIME_SCALE to meson's timeout multiplier, so every wait and wall-clock bound of a
    test grows with it."""
    try:
        return max(1.0, float(os.environ.get("KIMERA_TEST_TIME_SCALE", "1")))
    except ValueError:
        return 1.0


def scaled(seconds):
    return seconds * time_scale()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serve:
    """One `kimera serve` on loopback; port 0 in the config, the chosen port read from stderr."""

    def __init__(self, kimera, folder, rate, seed=1, config_text=None, extra_args=()):
        self.folder = folder
        self.config = os.path.join(folder, "kimera.toml")
        with open(self.config, "w", encoding="utf-8") as f:
            f.write((config_text or LIVE_CONFIG).format(db=os.path.join(folder, "db")))
        env = {k: v for k, v in os.environ.items() if k not in OVERRIDES}
        self.err_path = os.path.join(folder, "serve.err")
        with open(os.path.join(folder, "serve.out"), "w") as out, \
                open(self.err_path, "w") as err:
            self.proc = subprocess.Popen(
                [kimera, "--config", self.config, "serve", "--workload", str(rate),
                 "--seed", str(seed), *extra_args], stdout=out, stderr=err, env=env)
        self.port = None

    def stderr(self):
        with open(self.err_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_ready(self, timeout=60):
        """Waits for the metrics address on stderr and a first answer from /metrics."""
        deadline = time.time() + scaled(timeout)
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kimera serve exited with {self.proc.returncode}:\n"
                                   + self.stderr())
            if self.port is None:
                m = re.search(r"metrics at http://127\.0\.0\.1:(\d+)/metrics", self.stderr())
                if m:
                    self.port = int(m.group(1))
            if self.port is not None:
                try:
                    self.scrape(timeout=2)
                    return
                except OSError:
                    pass
            time.sleep(0.2)
        raise RuntimeError("kimera serve did not answer on /metrics:\n" + self.stderr())

    @property
    def target(self):
        return f"127.0.0.1:{self.port}"

    def scrape(self, timeout=5):
        with urllib.request.urlopen(f"http://{self.target}/metrics", timeout=timeout) as r:
            return r.read().decode("utf-8")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=scaled(60))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def finish(self):
        """Stops serve and returns the failures its end shows: an exit status other than 0 (a
        SIGTERM is a clean stop, so anything else is a crash, a sanitizer abort or a hang), and
        every sanitizer line of its stderr. Those lines are printed, so that the test's log
        carries the report (scripts/sanitize.sh counts the SUMMARY lines of the test log)."""
        rc = self.stop()
        err = self.stderr()
        failures = []
        report = [line for line in err.splitlines() if SANITIZER_LINE.search(line)]
        if report:
            print("kimera serve's sanitizer report:")
            for line in report[:400]:
                print(line)
            failures.append(f"kimera serve printed a sanitizer report ({len(report)} lines, "
                            f"above)")
        if rc != 0:
            failures.append(f"kimera serve exited with {rc}, not 0; its last stderr:\n"
                            + err[-2000:])
        return failures


def wait_for_families(serve, names, conditions=(), timeout=90):
    """Scrapes serve until every family in `names` is exposed and every (family, predicate) of
    `conditions` has a sample the predicate accepts, or until `timeout` (scaled) passes.
    Returns (families of the last scrape, [what was still missing])."""
    deadline = time.time() + scaled(timeout)
    while True:
        families = parse_exposition(serve.scrape())
        missing = sorted(n for n in names if n not in families)
        missing += [f"{family} ({why})" for family, why, pred in conditions
                    if not has_sample(families, family, pred)]
        if not missing or time.time() > deadline:
            return families, missing
        if serve.proc.poll() is not None:
            return families, missing + [f"kimera serve exited with {serve.proc.returncode}"]
        time.sleep(0.5)


SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text):
    """{family: {"type": t, "samples": [(series name, {labels}, value)]}} from the text format."""
    families = {}
    current = None
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, mtype = line.split(None, 3)
            current = families.setdefault(name, {"type": mtype.strip(), "samples": []})
            current["name"] = name
            continue
        if not line.strip() or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError(f"unparsable exposition line: {line!r}")
        series, labels, value = m.group(1), dict(LABEL.findall(m.group(2) or "")), m.group(3)
        family = current if current and series.startswith(current["name"]) else None
        if family is None:  # a sample without a TYPE line: an untyped family of its own
            family = families.setdefault(series, {"type": "untyped", "samples": [],
                                                  "name": series})
        family["samples"].append((series, labels, float(value.replace("Nan", "NaN"))))
    return families


def has_sample(families, family, pred=lambda series, labels, value: True):
    f = families.get(family)
    return bool(f) and any(pred(*s) for s in f["samples"])


def split_top(cell, sep=","):
    """Splits on `sep` outside parentheses."""
    out, depth, cur = [], 0, ""
    for ch in cell:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [c.strip() for c in out if c.strip()]


def parse_reference(path=METRICS_MD):
    """{name: {"type", "labels": {label: {"values": [..] or None, "conditional": bool}},
    "buckets": [floats] or None, "conditional": bool, "section": str}} from docs/metrics.md.

    Table rows: | `name` | type | labels | unit | meaning | buckets |. Labels cell: `—` or a comma
    list of `label` / `label (`v1`, `v2`)` / `label (detailed mode only)`. A metric is conditional
    (may be missing from /metrics) when its meaning starts with **Conditional**."""
    ref = {}
    section = ""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("## "):
                section = line[3:].strip()
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 5 or not re.fullmatch(r"`[a-z_:][a-z0-9_:]*`", cells[0]):
                continue
            name, mtype, labels_cell, meaning = (cells[0].strip("`"), cells[1], cells[2],
                                                 cells[4])
            labels = {}
            if labels_cell not in ("—", "-", ""):
                for item in split_top(labels_cell):
                    m = re.fullmatch(r"([a-z_]+)\s*(?:\((.*)\))?", item)
                    if not m:
                        raise ValueError(f"{name}: cannot read labels cell item {item!r}")
                    inner = m.group(2) or ""
                    values = re.findall(r"`([^`]+)`", inner)
                    labels[m.group(1)] = {"values": values or None,
                                          "conditional": bool(inner) and not values}
            buckets = None
            if len(cells) > 5:
                toks = [t.strip() for t in cells[5].split(",")]
                if toks and toks[-1] == "+Inf":
                    try:
                        buckets = [float(t) for t in toks[:-1]] + [float("inf")]
                    except ValueError:
                        buckets = None  # a formula or per-label buckets: not checked
            ref[name] = {"type": mtype, "labels": labels, "buckets": buckets,
                         "conditional": meaning.startswith("**Conditional**"),
                         "section": section}
    return ref


def metric_names(expr):
    """Metric names an expression selects (strings, label matchers, functions and keywords
    removed)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b\d+(?:\.\d+)?(?:[eE][-+]?\d+|ms|[smhdwy])?\b", " ", e)  # numbers, durations
    e = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        tok = m.group(0)
        rest = e[m.end():].lstrip()
        if rest.startswith("("):
            continue  # a function or aggregation
        if tok in ("by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
                   "or", "unless", "offset", "Inf", "NaN", "inf", "nan", "le"):
            continue
        if re.fullmatch(r"\d.*", tok):
            continue
        names.add(tok)
    return names


def have_prometheus():
    return shutil.which("prometheus")
