#!/usr/bin/env python3
"""Hostile and odd input through the real `kimera` program, beyond import.

Each case is a reproduction from the data-safety issue: timestamps outside
the window (and `kimera remove` as the way out), an export that fails
midway, `query --limit -1`, messages (singular counts, -0.0, a wrapper that
is not an object, an unknown command, control bytes in an id), and the scar
and model oddities whose handling docs/cli.md states.

Usage: hostile_cli_test.py KIMERA_BINARY SAMPLES_DIR
"""
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

KIMERA = None
SAMPLES = None


class HostileCli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kimera_hostile_cli_")
        self.db = os.path.join(self.tmp, "db")
        self.env = dict(os.environ)
        self.env.pop("KIMERA_CONFIG", None)
        self.env.pop("KIMERA_ID_DUAL_WRITE", None)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def kimera(self, *args, stdin=None, preexec_fn=None):
        r = subprocess.run([KIMERA, "--db", self.db, *args], input=stdin, capture_output=True,
                           timeout=300, env=self.env, preexec_fn=preexec_fn)
        return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")

    def import_text(self, text, *extra):
        return self.kimera(*extra, "import", "-", stdin=text.encode())

    def count(self):
        rc, out, err = self.kimera("count")
        self.assertEqual(rc, 0, err)
        return int(out.split()[0])

    def get(self, ident):
        rc, out, err = self.kimera("get", ident)
        self.assertEqual(rc, 0, err)
        return json.loads(out)

    # Item 9 -------------------------------------------------------------

    def test_timestamps_outside_the_window_are_refused(self):
        lines = [
            {"id": "future", "created_at": "9999-12-31T23:59:59"},
            {"id": "ancient", "created_at": "1969-07-20T20:17:00Z"},
            {"id": "later", "created_at": "2020-01-01T00:00:00", "updated_at": "9999-01-01T00:00:00"},
            {"id": "fine", "created_at": "2020-01-01T00:00:00Z"},
            {"id": "old_but_in_window", "created_at": "1975-01-01T00:00:00Z"},
        ]
        rc, _, err = self.import_text("\n".join(json.dumps(x) for x in lines) + "\n")
        self.assertEqual(rc, 1, err)
        self.assertIn("imported 2 identities, 3 bad lines", err)
        for n, ident, field in [(1, "future", "created_at"), (2, "ancient", "created_at"),
                                (3, "later", "updated_at")]:
            line = next(x for x in err.splitlines() if x.startswith(f"line {n}:"))
            self.assertIn(f"'{ident}'", line)
            self.assertIn(f"'{field}'", line)
        self.assertIn("max_future_seconds", err)
        self.assertIn("earliest_timestamp_seconds", err)
        self.assertEqual(self.count(), 2)
        # Nothing stored that would fail every decay verification from now on
        # (a 1975 created_at decays to a factor that underflows to 0).
        rc, out, err = self.kimera("verify-decay")
        self.assertEqual(rc, 0, out + err)

    def test_timestamp_window_is_configurable(self):
        config = os.path.join(self.tmp, "kimera.toml")
        with open(config, "w", encoding="utf-8") as f:
            f.write("[metrics]\nenabled = false\n\n[entropy]\n"
                    "earliest_timestamp_seconds = 946684800\nmax_future_seconds = 0\n")
        text = "\n".join(json.dumps(x) for x in [
            {"id": "y1999", "created_at": "1999-12-31T23:59:59Z"},
            {"id": "y2001", "created_at": "2001-01-01T00:00:00Z"},
            {"id": "tomorrow", "created_at": "2099-01-01T00:00:00Z"}]) + "\n"
        rc, _, err = self.import_text(text, "--config", config)
        self.assertEqual(rc, 1, err)
        self.assertIn("imported 1 identity, 2 bad lines", err)
        self.assertIn("2000-01-01T00:00:00+00:00", err)
        bad = os.path.join(self.tmp, "bad.toml")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("[entropy]\nmax_future_seconds = -1\n")
        rc, _, err = self.kimera("--config", bad, "count")
        self.assertNotEqual(rc, 0)
        self.assertIn("entropy.max_future_seconds", err)

    def test_remove_goes_through_the_whole_stack(self):
        rc, _, err = self.kimera("import", os.path.join(SAMPLES, "identities.jsonl"))
        self.assertEqual(rc, 0, err)
        rc, out, err = self.kimera("export")
        ids = [json.loads(x)["id"] for x in out.splitlines()]
        before = self.count()
        rc, _, err = self.kimera("remove", ids[0], ids[1])
        self.assertEqual(rc, 0, err)
        self.assertIn("removed 2 identities, 0 not found", err)
        self.assertEqual(self.count(), before - 2)
        self.assertEqual(self.kimera("get", ids[0])[0], 2)
        # The entropy index saw the removes: check finds no orphan entry.
        rc, out, err = self.kimera("check")
        self.assertEqual(rc, 0, out + err)
        rc, out, _ = self.kimera("query", "--limit", "1000")
        self.assertNotIn(ids[0], [json.loads(x)["id"] for x in out.splitlines()])
        # An absent id: exit 2, the others still removed, the id escaped.
        rc, _, err = self.kimera("remove", "nope\x01", ids[2])
        self.assertEqual(rc, 2, err)
        self.assertIn("id 'nope\\x01' not found", err)
        self.assertNotIn("\x01", err)
        self.assertEqual(self.count(), before - 3)
        rc, _, err = self.kimera("remove")
        self.assertEqual(rc, 2, err)

    def test_remove_with_dual_write_keeps_both_sides_consistent(self):
        config = os.path.join(self.tmp, "kimera.toml")
        with open(config, "w", encoding="utf-8") as f:
            f.write('[metrics]\nenabled = false\n\n[dual_write]\nenabled = true\nmode = "strict"\n')
        rc, _, err = self.kimera("--config", config, "import",
                                 os.path.join(SAMPLES, "identities.jsonl"))
        self.assertEqual(rc, 0, err)
        rc, out, _ = self.kimera("--config", config, "export")
        ids = [json.loads(x)["id"] for x in out.splitlines()]
        rc, _, err = self.kimera("--config", config, "remove", *ids[:5])
        self.assertEqual(rc, 0, err)
        rc, out, err = self.kimera("--config", config, "dual-write", "verify")
        self.assertEqual(rc, 0, out + err)

    # Item 11 ------------------------------------------------------------

    def test_export_failing_midway_leaves_no_partial_file(self):
        lines = [json.dumps({"id": f"g{i:05d}", "raw": "r" * 400, "tags": ["a", "b"]})
                 for i in range(3000)]
        rc, _, err = self.import_text("\n".join(lines) + "\n")
        self.assertEqual(rc, 0, err)
        out = os.path.join(self.tmp, "out", "export.jsonl")
        os.mkdir(os.path.dirname(out))
        with open(out, "w", encoding="utf-8") as f:
            f.write("previous export\n")
        limit = 512 * 1024  # Past RocksDB's own files at open; below the ~1.3 MB export.

        def small_files():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        rc, _, err = self.kimera("export", "-o", out, preexec_fn=small_files)
        self.assertEqual(rc, 3, err)
        self.assertIn("writing the export failed", err)
        with open(out, encoding="utf-8") as f:
            self.assertEqual(f.read(), "previous export\n")
        self.assertEqual(os.listdir(os.path.dirname(out)), ["export.jsonl"])
        # Without the limit the export completes and replaces the file.
        rc, _, err = self.kimera("export", "-o", out)
        self.assertEqual(rc, 0, err)
        with open(out, encoding="utf-8") as f:
            self.assertEqual(len(f.readlines()), 3000)
        self.assertEqual(os.listdir(os.path.dirname(out)), ["export.jsonl"])

    # Item 12 ------------------------------------------------------------

    def test_query_negative_limit_is_a_usage_error(self):
        self.import_text("\n".join(json.dumps({"id": f"q{i}", "tags": ["a", "b"]})
                                   for i in range(20)) + "\n")
        rc, out, err = self.kimera("query", "--limit", "-1")
        self.assertEqual(rc, 2, err)
        self.assertEqual(out, "")
        self.assertIn("--limit", err)
        rc, out, err = self.kimera("query", "--limit", "3")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out.splitlines()), 3)

    # Item 13 ------------------------------------------------------------

    def test_import_counts_one_identity_in_the_singular(self):
        rc, _, err = self.import_text(json.dumps({"id": "one"}) + "\n{bad\n")
        self.assertEqual(rc, 1, err)
        self.assertIn("imported 1 identity, 1 bad line\n", err)

    def test_export_writes_no_negative_zero(self):
        one_term = {"id": "single", "meta": {"terms": [{"term": "a", "intensity": 2}]}}
        rc, _, err = self.import_text(json.dumps(one_term) + "\n")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.kimera("export")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("-0.0", out)
        self.assertIn('"entropy": 0.0', out)

    def test_wrapper_that_is_not_an_object_says_so(self):
        rc, _, err = self.import_text('{"identity": "x"}\n{"ident": 1, "raw": "r"}\n')
        self.assertEqual(rc, 1, err)
        first = next(x for x in err.splitlines() if x.startswith("line 1:"))
        self.assertIn("'identity'", first)
        self.assertIn("string", first)
        second = next(x for x in err.splitlines() if x.startswith("line 2:"))
        self.assertIn("unknown key 'ident'", second)

    def test_unknown_command_suggests_the_closest(self):
        for typed, meant in [("importt", "import"), ("exprot", "export"), ("qeury", "query")]:
            rc, _, err = self.kimera(typed, "x")
            self.assertEqual(rc, 2, err)
            self.assertIn(f"unknown command '{typed}'", err)
            self.assertIn(f"did you mean '{meant}'", err)
            self.assertNotIn("A subcommand is required", err)
        rc, _, err = self.kimera("zzzzzzzz")
        self.assertEqual(rc, 2, err)
        self.assertIn("unknown command 'zzzzzzzz'", err)
        self.assertNotIn("did you mean", err)
        # --db's value is not taken for a command: a folder named "count" with no database in
        # it is reported as such (read commands never create one).
        r = subprocess.run([KIMERA, "--db", "count", "count"], cwd=self.tmp,
                           capture_output=True, text=True, env=self.env, timeout=120)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("no database at count", r.stderr)

    def test_get_escapes_control_bytes_of_an_absent_id(self):
        rc, _, err = self.import_text('{"id": "present", "tags": ["a"]}\n')
        self.assertEqual(rc, 0, err)
        rc, _, err = self.kimera("get", "a\x1b[31mb\x07")
        self.assertEqual(rc, 2, err)
        self.assertIn("a\\x1b[31mb\\x07", err)
        self.assertNotIn("\x1b", err)
        self.assertNotIn("\x07", err)

    # Item 15 ------------------------------------------------------------

    def test_scar_oddities_the_reference_accepts_keep_its_arithmetic(self):
        lines = [
            {"id": "self", "identity_type": "scar", "related_ids": ["self", "g"], "weight": 1.0},
            {"id": "dups", "identity_type": "scar", "related_ids": ["a", "a", "b", "b"],
             "weight": 1.0},
            {"id": "heavy_geoid", "weight": 1e300, "tags": ["a", "b"]},
        ]
        rc, _, err = self.import_text("\n".join(json.dumps(x) for x in lines) + "\n")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.get("self")["entropy"], 1.0)      # log2(2) * 1, itself counted
        self.assertEqual(self.get("dups")["entropy"], 2.0)      # log2(4) * 1, duplicates counted
        self.assertEqual(self.get("heavy_geoid")["entropy"], 1.0)  # weight plays no part

    def test_values_that_overflow_or_mislead_are_refused(self):
        lines = [
            {"id": "heavy_scar", "identity_type": "scar", "related_ids": ["a", "b"],
             "weight": 1e300},
            {"id": "backwards", "created_at": "2024-06-01T00:00:00Z",
             "updated_at": "2024-05-01T00:00:00Z"},
            {"id": "limit_scar", "identity_type": "scar", "related_ids": ["a", "b"],
             "weight": 1e6},
        ]
        rc, _, err = self.import_text("\n".join(json.dumps(x) for x in lines) + "\n")
        self.assertEqual(rc, 1, err)
        self.assertIn("imported 1 identity, 2 bad lines", err)
        first = next(x for x in err.splitlines() if x.startswith("line 1:"))
        self.assertIn("'heavy_scar'", first)
        self.assertIn("'weight'", first)
        second = next(x for x in err.splitlines() if x.startswith("line 2:"))
        self.assertIn("'backwards'", second)
        self.assertIn("'updated_at'", second)
        self.assertEqual(self.get("limit_scar")["entropy"], 1e6)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: hostile_cli_test.py KIMERA_BINARY SAMPLES_DIR")
    KIMERA = os.path.abspath(sys.argv[1])
    SAMPLES = os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0], "-v"])
