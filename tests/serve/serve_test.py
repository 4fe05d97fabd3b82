#!/usr/bin/env python3
"""End-to-end test of `kimera serve`.

Usage: serve_test.py KIMERA_BINARY

Starts the real binary on a free port with a short workload, scrapes /metrics
over HTTP, stops it with SIGTERM and checks that every acknowledged write is
found after a restart. Read commands (count, export, get, check, query) work
while serve holds the folder; check --repair does not. Also: bad configurations name the key and exit 1
before anything is opened, a second serve on a folder in use fails cleanly
with the lock (exit 3), a metrics port in use fails cleanly (exit 3).
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

KIMERA = None
# Every wait and wall-clock bound grows with the slowdown the run allows: scripts/sanitize.sh sets
# KIMERA_TEST_TIME_SCALE to meson's timeout multiplier.
TIME_SCALE = max(1.0, float(os.environ.get("KIMERA_TEST_TIME_SCALE", "1") or 1))

# Every operation kind the workload runs, as operation_type label values.
OPERATIONS = ["store", "fetch", "remove", "list", "count", "find_by_entropy", "scan",
              "apply_decay", "sync"]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(folder, name, port, extra=""):
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write('[storage]\npath = "%s"\n\n[metrics]\nport = %d\n%s' %
                (os.path.join(folder, "db"), port, extra))
    return path


def scrape(port, timeout=2.0):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=timeout) as r:
        return r.status, r.read().decode("utf-8")


def metric_sums(text, name, label):
    """Sums the samples of `name` by the value of `label`."""
    sums = {}
    pattern = re.compile(r"^" + re.escape(name) + r"\{([^}]*)\}\s+(\S+)$")
    for line in text.splitlines():
        m = pattern.match(line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if label in labels:
            sums[labels[label]] = sums.get(labels[label], 0.0) + float(m.group(2))
    return sums


class Server:
    """One `kimera serve` process with its output in files."""

    def __init__(self, folder, config, args, tag):
        env = dict(os.environ)
        env.pop("KIMERA_METRICS_PORT", None)
        env.pop("KIMERA_CONFIG", None)
        self.stdout_path = os.path.join(folder, tag + ".out")
        self.stderr_path = os.path.join(folder, tag + ".err")
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen([KIMERA, "--config", config, "serve"] + args,
                                         stdout=out, stderr=err, env=env)

    def stderr(self):
        with open(self.stderr_path, encoding="utf-8") as f:
            return f.read()

    def wait_for(self, text, timeout):
        deadline = time.time() + timeout * TIME_SCALE
        while time.time() < deadline:
            if text in self.stderr():
                return True
            if self.proc.poll() is not None:
                return text in self.stderr()
            time.sleep(0.2)
        return False

    def stop(self, sig=signal.SIGTERM, timeout=60):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout * TIME_SCALE)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run_kimera(*args):
    env = dict(os.environ)
    env.pop("KIMERA_METRICS_PORT", None)
    env.pop("KIMERA_CONFIG", None)
    return subprocess.run([KIMERA] + list(args), capture_output=True, text=True, env=env,
                          timeout=120 * TIME_SCALE)


def exit_summary(stderr):
    acked = re.search(r"^acknowledged writes: (\d+)$", stderr, re.M)
    stored = re.search(r"^identities stored: (-?\d+)$", stderr, re.M)
    done = re.search(r"(\d+) operations, (\d+) identities created, (\d+) removed", stderr)
    return (int(acked.group(1)) if acked else None, int(stored.group(1)) if stored else None,
            tuple(int(g) for g in done.groups()) if done else None)


def live_ids(ack_log):
    """The ids the acknowledged writes leave stored, replayed in order."""
    live = set()
    with open(ack_log, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("+"):
                live.add(line[1:])
            elif line.startswith("-"):
                live.discard(line[1:])
    return live


def exported_ids(config):
    result = run_kimera("--config", config, "export")
    if result.returncode != 0:
        raise AssertionError("export failed: " + result.stderr)
    return {json.loads(line)["id"] for line in result.stdout.splitlines() if line.strip()}


def count(config):
    result = run_kimera("--config", config, "count")
    if result.returncode != 0:
        raise AssertionError("count failed: " + result.stderr)
    return int(result.stdout.strip())


class ServeTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="kimera-serve-")
        self.folder = self.tmp.name
        self.servers = []

    def tearDown(self):
        for server in self.servers:
            server.kill()
        self.tmp.cleanup()

    def start(self, config, args, tag):
        server = Server(self.folder, config, args, tag)
        self.servers.append(server)
        return server

    def wait_for_metrics(self, server, port, timeout=30):
        timeout *= TIME_SCALE
        deadline = time.time() + timeout
        while time.time() < deadline:
            if server.proc.poll() is not None:
                self.fail("serve exited early (%s): %s" % (server.proc.returncode, server.stderr()))
            try:
                status, text = scrape(port)
                if status == 200:
                    return text
            except OSError:
                pass
            time.sleep(0.2)
        self.fail("/metrics did not answer within %d s: %s" % (timeout, server.stderr()))

    def test_workload_metrics_shutdown_restart_and_lock(self):
        port = free_port()
        config = write_config(self.folder, "kimera.toml", port)
        ack_log = os.path.join(self.folder, "acks.txt")
        server = self.start(config, ["--workload", "200", "--workload-duration", "15", "--seed",
                                     "7", "--ack-log", ack_log], "first")
        self.wait_for_metrics(server, port)

        # A second serve on the same folder, while the first holds it.
        second = run_kimera("--config", write_config(self.folder, "second.toml", free_port()),
                            "serve", "--workload", "10")
        self.assertEqual(second.returncode, 3, second.stderr)
        self.assertIn("lock", second.stderr)
        self.assertIn(os.path.join(self.folder, "db"), second.stderr)

        self.assertTrue(server.wait_for("workload finished", 90), server.stderr())
        _, text = scrape(port)
        operations = metric_sums(text, "kimera_identity_operations_total", "operation_type")
        durations = metric_sums(text, "kimera_storage_operations_duration_seconds_count",
                                "operation_type")
        for op in OPERATIONS:
            self.assertGreater(operations.get(op, 0), 0, "no %s operations counted" % op)
            self.assertGreater(durations.get(op, 0), 0, "no %s durations observed" % op)
        for name in ["kimera_identity_entropy_bucket", "kimera_tau_distribution_bucket",
                     "kimera_active_identities"]:
            self.assertIn(name, text)
        errors = metric_sums(text, "kimera_storage_errors_total", "operation_type")
        self.assertEqual(sum(errors.values()), 0, "storage errors: %s" % errors)

        self.assertEqual(server.stop(signal.SIGTERM), 0, server.stderr())
        acked, stored, (operations_done, created, removed) = exit_summary(server.stderr())
        self.assertIsNotNone(acked, server.stderr())
        # ~15 s at 200 ops/s; a sanitizer build may fall behind the rate by its slowdown.
        self.assertGreater(operations_done, 2000 / TIME_SCALE)
        self.assertGreater(acked, 0)
        self.assertEqual(stored, created - removed)
        live = live_ids(ack_log)
        self.assertEqual(len(live), stored)
        self.assertEqual(count(config), stored)
        self.assertTrue(live <= exported_ids(config), "acknowledged identities missing")

        # A restart resumes with everything, and keeps working on it.
        restart = self.start(config, ["--workload", "200", "--seed", "8", "--ack-log", ack_log],
                             "restart")
        self.wait_for_metrics(restart, port)
        self.assertIn("%d identities stored" % stored, restart.stderr())
        time.sleep(3)
        self.assertEqual(restart.stop(signal.SIGINT), 0, restart.stderr())
        _, stored_after, (_, created2, removed2) = exit_summary(restart.stderr())
        self.assertEqual(stored_after, stored + created2 - removed2)
        self.assertEqual(count(config), stored_after)
        self.assertTrue(live_ids(ack_log) <= exported_ids(config),
                        "acknowledged identities missing after restart")

    def test_read_commands_work_while_serving(self):
        port = free_port()
        config = write_config(self.folder, "kimera.toml", port)
        server = self.start(config, ["--workload", "100", "--seed", "3"], "live")
        self.wait_for_metrics(server, port)
        time.sleep(2)
        for _ in range(2):
            result = run_kimera("--config", config, "count")
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertGreater(int(result.stdout.strip()), 0)
            result = run_kimera("--config", config, "export")
            self.assertEqual(result.returncode, 0, result.stderr)
            first = json.loads(result.stdout.splitlines()[0])["id"]
            result = run_kimera("--config", config, "get", first)
            self.assertIn(result.returncode, (0, 2), result.stderr)  # 2: removed meanwhile.
            result = run_kimera("--config", config, "check")
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            result = run_kimera("--config", config, "query", "--limit", "3")
            self.assertEqual(result.returncode, 0, result.stderr)
            time.sleep(1)
        # check --repair writes: it still needs the lock serve holds.
        result = run_kimera("--config", config, "check", "--repair")
        self.assertEqual(result.returncode, 3, result.stderr)
        self.assertIn("lock", result.stderr)
        self.assertIsNone(server.proc.poll(), server.stderr())
        self.assertEqual(server.stop(signal.SIGTERM), 0, server.stderr())

    def test_bad_config_names_key_and_opens_nothing(self):
        cases = [("[metrics]\ncolour = 1\n", "metrics.colour"),
                 ("[metrics]\nport = 70000\n", "metrics.port"),
                 ("[entropy]\nbase_tau_seconds = -5.0\n", "entropy.base_tau_seconds"),
                 ("[metrics]\nenabled = \"yes\"\n", "metrics.enabled"),
                 # Half-configured authentication, an empty password, an address that is none.
                 ("[metrics]\nbasic_auth_password = \"pw\"\n", "metrics.basic_auth_user"),
                 ("[metrics]\nbasic_auth_user = \"alice\"\n", "metrics.basic_auth_password"),
                 ("[metrics]\nbasic_auth_user = \"alice\"\nbasic_auth_password = \"\"\n",
                  "metrics.basic_auth_password"),
                 ("[metrics]\nbind_address = \"not an ip\"\n", "metrics.bind_address"),
                 ("[metrics]\nbind_address = \"localhost\"\n", "metrics.bind_address")]
        for i, (text, key) in enumerate(cases):
            path = os.path.join(self.folder, "bad%d.toml" % i)
            db = os.path.join(self.folder, "db%d" % i)
            with open(path, "w", encoding="utf-8") as f:
                f.write('[storage]\npath = "%s"\n' % db + text)
            result = run_kimera("--config", path, "serve", "--workload", "10")
            self.assertEqual(result.returncode, 1, (key, result.stderr))
            self.assertIn(key, result.stderr)
            self.assertIn(path, result.stderr)
            self.assertFalse(os.path.exists(db), "%s: database opened anyway" % key)
            self.assertEqual(result.stderr.count("kimera:"), 1, result.stderr)

    def test_metrics_port_in_use_fails_cleanly(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            config = write_config(self.folder, "kimera.toml", port)
            result = run_kimera("--config", config, "serve")
            self.assertEqual(result.returncode, 3, result.stderr)
            self.assertIn(str(port), result.stderr)
            self.assertIn("/metrics", result.stderr)
            # Said once, not wrapped in a second copy of itself.
            self.assertEqual(result.stderr.count("cannot serve /metrics"), 1, result.stderr)
            self.assertEqual(result.stderr.count(str(port)), 1, result.stderr)
        # The database it opened was closed again: a new serve can take it.
        self.assertEqual(count(config), 0)

    def test_ipv6_loopback_serves_metrics(self):
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
                probe.bind(("::1", 0))
                port = probe.getsockname()[1]
        except OSError as e:
            self.skipTest("no IPv6 loopback here: %s" % e)
        config = write_config(self.folder, "kimera.toml", port, 'bind_address = "::1"\n')
        server = self.start(config, [], "ipv6")
        deadline = time.time() + 30 * TIME_SCALE
        while True:
            self.assertIsNone(server.proc.poll(), server.stderr())
            try:
                url = "http://[::1]:%d/metrics" % port
                with urllib.request.urlopen(url, timeout=2) as r:
                    self.assertEqual(r.status, 200)
                    self.assertIn("kimera_build_info", r.read().decode("utf-8"))
                break
            except OSError:
                self.assertLess(time.time(), deadline, server.stderr())
                time.sleep(0.2)
        # The endpoint answers as soon as it listens, before serve has
        # finished opening the stack and printed where it serves.
        self.assertTrue(server.wait_for("[::1]:%d" % port, 30), server.stderr())
        self.assertEqual(server.stop(), 0, server.stderr())

    def test_version_flag_matches_build_info(self):
        version = run_kimera("--version")
        self.assertEqual(version.returncode, 0, version.stderr)
        port = free_port()
        server = self.start(write_config(self.folder, "kimera.toml", port), [], "version")
        text = self.wait_for_metrics(server, port)
        labels = re.search(r'^kimera_build_info\{([^}]*)\}', text, re.M)
        self.assertIsNotNone(labels, text)
        exposed = dict(re.findall(r'(\w+)="([^"]*)"', labels.group(1)))["version"]
        self.assertEqual(version.stdout.strip(), exposed)
        self.assertEqual(server.stop(), 0, server.stderr())


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: serve_test.py KIMERA_BINARY")
    KIMERA = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0], "-v"])
