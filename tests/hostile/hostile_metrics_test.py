#!/usr/bin/env python3
"""Hostile clients against the real `kimera serve` /metrics endpoint.

Usage: hostile_metrics_test.py KIMERA_BINARY

Holds 50 connections open without sending anything and 10 that send one
header byte per second (each re-opened as soon as the server drops it, as an
attacker would), and meanwhile scrapes /metrics back to back: every scrape
must succeed and their p99 must stay under 100 ms (times KIMERA_TEST_TIME_SCALE).
Once with basic auth off, once on. Everything stays on 127.0.0.1, and the test
closes every hostile connection itself before it ends.
"""

import base64
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

KIMERA = None
TIME_SCALE = max(1.0, float(os.environ.get("KIMERA_TEST_TIME_SCALE", "1") or 1))

IDLE_CONNECTIONS = 50
TRICKLE_CONNECTIONS = 10
P99_BOUND_SECONDS = 0.100 * TIME_SCALE
# Longer than the endpoint's 5 s request deadline, so that the run covers the
# server dropping stalled connections and the clients coming back.
SCRAPE_SECONDS = 8.0
TRICKLE_REQUEST = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 4096


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HostileClients:
    """Idle and trickling connections, re-opened whenever the server closes one."""

    def __init__(self, port):
        self.port = port
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.sockets = []
        self.reopened = 0
        self.threads = [threading.Thread(target=self._idle, daemon=True),
                        threading.Thread(target=self._trickle, daemon=True)]

    def _connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.setblocking(False)
        with self.lock:
            self.sockets.append(s)
        return s

    def _drop(self, s):
        with self.lock:
            if s in self.sockets:
                self.sockets.remove(s)
        s.close()

    def _closed_by_server(self, s):
        try:
            return s.recv(4096) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def _idle(self):
        conns = [self._connect() for _ in range(IDLE_CONNECTIONS)]
        while not self.stop_event.is_set():
            readable, _, _ = select.select(conns, [], [], 0.1)
            for s in readable:
                if self._closed_by_server(s):
                    conns.remove(s)
                    self._drop(s)
                    conns.append(self._connect())
                    self.reopened += 1

    def _trickle(self):
        conns = [[self._connect(), 0] for _ in range(TRICKLE_CONNECTIONS)]
        while not self.stop_event.wait(1.0):
            for entry in conns:
                s, sent = entry
                try:
                    if self._closed_by_server(s):
                        raise OSError("closed")
                    s.send(TRICKLE_REQUEST[sent % len(TRICKLE_REQUEST):][:1])
                    entry[1] = sent + 1
                except OSError:
                    self._drop(s)
                    entry[0], entry[1] = self._connect(), 0
                    self.reopened += 1

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=30)
        with self.lock:
            for s in self.sockets:
                s.close()
            self.sockets.clear()

    def count(self):
        with self.lock:
            return len(self.sockets)


class HostileMetrics(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="kimera-hostile-metrics-")
        self.server = None

    def tearDown(self):
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=60 * TIME_SCALE)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        if self.server is not None:
            self.server.stderr.close()
        self.tmp.cleanup()

    def start_serve(self, auth):
        port = free_port()
        config = os.path.join(self.tmp.name, "kimera.toml")
        with open(config, "w", encoding="utf-8") as f:
            f.write('[storage]\npath = "%s"\n\n[metrics]\nbind_address = "127.0.0.1"\n'
                    'port = %d\n' % (os.path.join(self.tmp.name, "db"), port))
            if auth:
                f.write('basic_auth_user = "alice"\nbasic_auth_password = "s3cret"\n')
        env = dict(os.environ)
        env.pop("KIMERA_METRICS_PORT", None)
        env.pop("KIMERA_CONFIG", None)
        self.server = subprocess.Popen([KIMERA, "--config", config, "serve"], env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       text=True)
        return port

    def scrape(self, port, auth, timeout):
        request = urllib.request.Request("http://127.0.0.1:%d/metrics" % port)
        if auth:
            token = base64.b64encode(b"alice:s3cret").decode("ascii")
            request.add_header("Authorization", "Basic " + token)
        start = time.monotonic()
        with urllib.request.urlopen(request, timeout=timeout) as r:
            body = r.read()
            self.assertEqual(r.status, 200)
        self.assertIn(b"kimera_build_info", body)
        return time.monotonic() - start

    def wait_until_served(self, port, auth):
        deadline = time.monotonic() + 60 * TIME_SCALE
        while True:
            if self.server.poll() is not None:
                self.fail("serve exited (%s): %s" % (self.server.returncode,
                                                     self.server.stderr.read()))
            try:
                self.scrape(port, auth, timeout=2)
                return
            except (OSError, urllib.error.URLError):
                self.assertLess(time.monotonic(), deadline, "/metrics never answered")
                time.sleep(0.1)

    def check_scrapes_survive(self, auth):
        port = self.start_serve(auth)
        self.wait_until_served(port, auth)
        if auth:
            with self.assertRaises(urllib.error.HTTPError) as refused:
                self.scrape(port, False, timeout=5)
            self.assertEqual(refused.exception.code, 401)
        hostile = HostileClients(port)
        hostile.start()
        latencies, failures = [], []
        try:
            time.sleep(1.0)  # Lets every hostile connection reach a worker first.
            self.assertEqual(hostile.count(), IDLE_CONNECTIONS + TRICKLE_CONNECTIONS)
            end = time.monotonic() + SCRAPE_SECONDS
            while time.monotonic() < end:
                try:
                    latencies.append(self.scrape(port, auth, timeout=2 * TIME_SCALE))
                except (OSError, urllib.error.URLError) as e:
                    failures.append(repr(e))
                time.sleep(0.02)
        finally:
            hostile.stop()
        self.assertEqual(failures, [], "scrapes failed under hostile connections")
        self.assertGreaterEqual(len(latencies), 50)
        latencies.sort()
        p99 = latencies[int(0.99 * (len(latencies) - 1))]
        print("auth %s: %d scrapes, p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d hostile "
              "re-opens" % (auth, len(latencies), 1000 * latencies[len(latencies) // 2],
                            1000 * p99, 1000 * latencies[-1], hostile.reopened))
        self.assertLess(p99, P99_BOUND_SECONDS, "p99 scrape latency")
        self.assertIsNone(self.server.poll(), "serve exited under hostile connections")

    def test_idle_and_trickling_connections_leave_scrapes_fast_without_auth(self):
        self.check_scrapes_survive(auth=False)

    def test_idle_and_trickling_connections_leave_scrapes_fast_with_auth(self):
        self.check_scrapes_survive(auth=True)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: hostile_metrics_test.py KIMERA_BINARY")
    KIMERA = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0], "-v"])
