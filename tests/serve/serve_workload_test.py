#!/usr/bin/env python3
"""`kimera serve --workload` leaves identities it did not create alone.

Usage: serve_workload_test.py KIMERA_BINARY SAMPLES_DIR

The issue's reproduction: import samples/identities.jsonl, run
`serve --workload 200 --workload-duration 6` on the same folder. Before the
fix the workload seeded itself from the imported ids and removed or rewrote
about half of them. Every imported identity must come back byte for byte,
and the workload must still have run every kind of operation on its own.
"""

import json
import os
import signal
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_test  # noqa: E402  (helpers: Server, free_port, write_config, run_kimera)

SAMPLES = None


def export_by_id(config):
    result = serve_test.run_kimera("--config", config, "export")
    if result.returncode != 0:
        raise AssertionError("export failed: " + result.stderr)
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return {json.loads(line)["id"]: line for line in lines}


class ServeWorkloadTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="kimera-serve-workload-")
        self.folder = self.tmp.name
        self.server = None

    def tearDown(self):
        if self.server is not None:
            self.server.kill()
        self.tmp.cleanup()

    def test_workload_touches_only_its_own_identities(self):
        port = serve_test.free_port()
        config = serve_test.write_config(self.folder, "kimera.toml", port)
        imported = serve_test.run_kimera("--config", config, "import",
                                         os.path.join(SAMPLES, "identities.jsonl"))
        self.assertEqual(imported.returncode, 0, imported.stderr)
        before = export_by_id(config)
        self.assertEqual(len(before), 60)

        for seed, tag in [(1, "first"), (2, "restart")]:
            self.server = serve_test.Server(self.folder, config,
                                            ["--workload", "200", "--workload-duration", "6",
                                             "--seed", str(seed)], tag)
            self.assertTrue(self.server.wait_for("workload finished", 90), self.server.stderr())
            self.assertEqual(self.server.stop(signal.SIGTERM), 0, self.server.stderr())
            _, _, (operations, created, removed) = serve_test.exit_summary(self.server.stderr())
            self.assertGreater(operations, 300 / serve_test.TIME_SCALE)
            self.assertGreater(created, 0)
            # The restart samples what the first run created, and removes some of it.
            if tag == "restart":
                self.assertGreater(removed, 0)
            self.server = None

            after = export_by_id(config)
            removed_ids = sorted(set(before) - set(after))
            changed = sorted(i for i in before if i in after and after[i] != before[i])
            self.assertEqual(removed_ids, [], "imported identities removed by the workload")
            self.assertEqual(changed, [], "imported identities rewritten by the workload")
            for ident in set(after) - set(before):
                self.assertTrue(ident.startswith(("wg-", "ws-")), ident)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: serve_workload_test.py KIMERA_BINARY SAMPLES_DIR")
    serve_test.KIMERA = os.path.abspath(sys.argv[1])
    SAMPLES = os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0], "-v"])
