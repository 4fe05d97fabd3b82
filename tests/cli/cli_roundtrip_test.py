#!/usr/bin/env python3
"""End-to-end test of the kimera program on the reference sample.

Usage: cli_roundtrip_test.py KIMERA_BINARY DATA_DIR

Imports DATA_DIR/reference_sample.jsonl into a fresh database through the real
binary, exports it, and checks every identity against the reference: each
field round-tripped, entropy and effective tau as the reference computed them.
Then checks count, query, get, bad-line handling and re-import.
"""

import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

KIMERA = None
DATA_DIR = None

REFERENCE_FIELDS = ["id", "identity_type", "raw", "echo", "lang_axis", "tags", "weight",
                    "related_ids", "meta", "created_at", "updated_at"]


def load_sample():
    rows = []
    with open(os.path.join(DATA_DIR, "reference_sample.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def close(actual, expected, tol=1e-12):
    if expected == 0:
        return abs(actual) <= tol
    return abs(actual - expected) <= tol * abs(expected)


class KimeraCli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="kimera-cli-test-")
        self.db = os.path.join(self.tmp.name, "db")
        self.sample_path = os.path.join(DATA_DIR, "reference_sample.jsonl")
        self.sample = load_sample()

    def tearDown(self):
        self.tmp.cleanup()

    def kimera(self, *args, stdin=None, db=None):
        return subprocess.run([KIMERA, "--db", db or self.db, *args], input=stdin,
                              capture_output=True, text=True, timeout=120)

    def import_sample(self):
        r = self.kimera("import", self.sample_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("imported 60 identities, 0 bad lines", r.stderr)

    def export(self):
        r = self.kimera("export")
        self.assertEqual(r.returncode, 0, r.stderr)
        return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

    def test_roundtrip_matches_reference(self):
        self.import_sample()
        exported = {row["id"]: row for row in self.export()}
        self.assertEqual(len(exported), len(self.sample))
        for row in self.sample:
            ref = row["identity"]
            expected = row["expected"]
            got = exported[ref["id"]]
            with self.subTest(id=ref["id"]):
                self.assertEqual(list(got.keys()),
                                 REFERENCE_FIELDS + ["entropy", "effective_tau"])
                self.assertEqual({k: got[k] for k in REFERENCE_FIELDS}, ref)
                self.assertEqual(got["created_at"], ref["created_at"])
                self.assertEqual(got["updated_at"], ref["updated_at"])
                self.assertTrue(close(got["entropy"], expected["entropy"]),
                                (got["entropy"], expected["entropy"]))
                self.assertTrue(close(got["effective_tau"], expected["effective_tau"]),
                                (got["effective_tau"], expected["effective_tau"]))

    def test_get_count_and_query(self):
        self.import_sample()
        r = self.kimera("count")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "60"), r.stderr)
        scars = sum(1 for row in self.sample if row["identity"]["identity_type"] == "scar")
        r = self.kimera("count", "--type", "scar")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, str(scars)), r.stderr)
        r = self.kimera("count", "--type", "geoid")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, str(60 - scars)), r.stderr)
        r = self.kimera("count", "--type", "blob")
        self.assertEqual(r.returncode, 2)

        ref = self.sample[0]
        r = self.kimera("get", ref["identity"]["id"])
        self.assertEqual(r.returncode, 0, r.stderr)
        got = json.loads(r.stdout)
        self.assertEqual({k: got[k] for k in REFERENCE_FIELDS}, ref["identity"])
        self.assertTrue(close(got["entropy"], ref["expected"]["entropy"]))

        r = self.kimera("get", "no-such-id")
        self.assertEqual(r.returncode, 2)
        self.assertIn("id 'no-such-id' not found", r.stderr)
        self.assertEqual(r.stdout, "")

        entropies = sorted(((row["expected"]["entropy"], row["identity"]["id"])
                            for row in self.sample), key=lambda e: (-e[0], e[1]))
        r = self.kimera("query")
        self.assertEqual(r.returncode, 0, r.stderr)
        top = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual(len(top), 10)
        self.assertEqual([t["id"] for t in top], [e[1] for e in entropies[:10]])

        r = self.kimera("query", "--min-entropy", "1", "--max-entropy", "3", "--limit", "100")
        self.assertEqual(r.returncode, 0, r.stderr)
        hits = [json.loads(line) for line in r.stdout.splitlines()]
        want = [e for e in entropies if 1 <= e[0] <= 3]
        self.assertEqual([h["id"] for h in hits], [e[1] for e in want])
        self.assertEqual([h["entropy"] for h in hits],
                         sorted([h["entropy"] for h in hits], reverse=True))

        r = self.kimera("query", "--limit", "3", "--min-entropy", "0.5")
        self.assertEqual(len(r.stdout.splitlines()), 3)
        r = self.kimera("query", "--min-entropy", "5", "--max-entropy", "1")
        self.assertEqual(r.returncode, 2)

    def test_bad_lines_are_reported_and_skipped(self):
        good = [row["identity"] for row in self.sample[:3]]
        negative = dict(good[0], id="neg", weight=-1.0)
        blob = dict(good[0], id="blobby", identity_type="blob")
        bad_time = dict(good[0], id="badtime", created_at="2026-13-45T99:00:00")
        lines = [
            json.dumps(good[0]),                       # 1: bare identity
            "{\"id\": \"broken\", \"weight\": ",       # 2: malformed JSON
            json.dumps(negative),                      # 3: negative weight
            "",                                        # 4: blank, skipped
            json.dumps({"identity": good[1]}),         # 5: wrapped identity
            json.dumps(blob),                          # 6: unknown identity_type
            json.dumps(bad_time),                      # 7: invalid timestamp
            json.dumps(good[2]),                       # 8
        ]
        r = self.kimera("import", "-", stdin="\n".join(lines) + "\n")
        self.assertEqual(r.returncode, 1, r.stderr)
        for n in (2, 3, 6, 7):
            self.assertIn(f"line {n}: ", r.stderr)
        for n in (1, 4, 5, 8):
            self.assertNotIn(f"line {n}: ", r.stderr)
        self.assertIn("weight", r.stderr)
        self.assertIn("neg", r.stderr)
        self.assertIn("identity_type", r.stderr)
        self.assertIn("created_at", r.stderr)
        self.assertIn("imported 3 identities, 4 bad lines", r.stderr)
        ids = sorted(row["id"] for row in self.export())
        self.assertEqual(ids, sorted(g["id"] for g in good))

    def test_extra_top_level_keys_round_trip_through_export_and_import(self):
        # The reference's legacy to_dict() adds "content" and "metadata"; any
        # other top-level key is kept too, and the export's computed keys are
        # dropped on input (and written afresh on output).
        refs = [row for row in self.sample if row["identity"]["identity_type"] == "geoid"][:1] + \
            [row for row in self.sample if row["identity"]["identity_type"] == "scar"][:1]
        extras = {
            refs[0]["identity"]["id"]: {"content": "legacy text 東京",
                                        "metadata": {"source": "ref", "n": [1, 2.5, None, True]}},
            refs[1]["identity"]["id"]: {"content": None, "metadata": {},
                                        "zz_other": [{"k": "v"}]},
        }
        lines = []
        for row in refs:
            identity = dict(row["identity"], **extras[row["identity"]["id"]])
            identity["entropy"] = 123.0
            identity["effective_tau"] = 4.0
            lines.append(json.dumps(identity, ensure_ascii=False))
        r = self.kimera("import", "-", stdin="\n".join(lines) + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)

        exported = {row["id"]: row for row in self.export()}
        self.assertEqual(len(exported), 2)
        for row in refs:
            ref = row["identity"]
            got = exported[ref["id"]]
            extra = extras[ref["id"]]
            with self.subTest(id=ref["id"]):
                self.assertEqual(list(got.keys()),
                                 REFERENCE_FIELDS + sorted(extra) + ["entropy", "effective_tau"])
                self.assertEqual({k: got[k] for k in REFERENCE_FIELDS}, ref)
                self.assertEqual({k: got[k] for k in extra}, extra)
                # Entropy ignores the extra keys: the reference's value, not the input's.
                self.assertTrue(close(got["entropy"], row["expected"]["entropy"]),
                                (got["entropy"], row["expected"]["entropy"]))
                r = self.kimera("get", ref["id"])
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(json.loads(r.stdout), got)

        # The export imports unchanged into a fresh database and exports the same.
        second = os.path.join(self.tmp.name, "second")
        r = self.kimera("export", "-o", os.path.join(self.tmp.name, "export.jsonl"))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.kimera("import", os.path.join(self.tmp.name, "export.jsonl"), db=second)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.kimera("export", db=second)
        self.assertEqual(r.returncode, 0, r.stderr)
        again = {row["id"]: row for row in
                 (json.loads(line) for line in r.stdout.splitlines() if line.strip())}
        self.assertEqual(again, exported)

    def test_extra_keys_count_towards_the_record_size_limit(self):
        ref = self.sample[0]["identity"]
        huge = dict(ref, id="huge-extra", content="c" * (16 << 20))
        small = dict(ref, id="small-extra", content="c")
        r = self.kimera("import", "-",
                        stdin=json.dumps(huge) + "\n" + json.dumps(small) + "\n")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("line 1: ", r.stderr)
        self.assertIn("huge-extra", r.stderr)
        self.assertIn("exceeds the limit", r.stderr)
        self.assertIn("imported 1 identity, 1 bad line", r.stderr)
        self.assertEqual([row["id"] for row in self.export()], ["small-extra"])

    def test_reimport_keeps_created_at(self):
        self.import_sample()
        first = {row["id"]: row for row in self.export()}
        # A different created_at inside the timestamp window (not in the future) and
        # not after the sample's updated_at, so the line is valid and only the rule is tested.
        changed = [dict(row["identity"], created_at="2021-01-01T00:00:00+00:00",
                        raw="changed") for row in self.sample[:5]]
        r = self.kimera("import", "-", stdin="".join(json.dumps(c) + "\n" for c in changed))
        self.assertEqual(r.returncode, 0, r.stderr)
        second = {row["id"]: row for row in self.export()}
        self.assertEqual(len(second), 60)
        for c in changed:
            self.assertEqual(second[c["id"]]["created_at"], first[c["id"]]["created_at"])
            self.assertEqual(second[c["id"]]["raw"], "changed")

    def test_usage_errors_and_help(self):
        r = self.kimera("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("Exit codes", r.stdout)
        for cmd in ("import", "export", "get", "query", "count"):
            r = self.kimera(cmd, "--help")
            self.assertEqual(r.returncode, 0, cmd)
        r = self.kimera("frobnicate")
        self.assertEqual(r.returncode, 2)
        r = self.kimera("import", os.path.join(self.tmp.name, "missing.jsonl"))
        self.assertEqual(r.returncode, 3)

    # One invocation of every command that reads the configuration.
    EVERY_COMMAND = [["import", "-"], ["export"], ["get", "x"], ["query"], ["count"], ["check"],
                     ["decay", "apply"], ["decay", "sweep"], ["verify-decay"],
                     ["dual-write", "stats"], ["dual-write", "verify"], ["dual-write", "repair"],
                     ["dual-write", "cleanup"], ["stress", "--ops", "1"], ["serve"]]

    def test_configuration_errors_exit_1_naming_file_key_and_reason(self):
        folder = os.path.join(self.tmp.name, "conf.d")
        os.mkdir(folder)

        def config(name, text):
            path = os.path.join(self.tmp.name, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            return path

        good = config("good.toml", "[metrics]\nport = 0\n")
        # (--config, extra environment, texts stderr must contain)
        cases = [
            (os.path.join(self.tmp.name, "missing.toml"), {}, ["missing.toml", "No such file"]),
            (folder, {}, [folder, "is a directory"]),
            (config("unknown.toml", "[metrics]\ncolour = 1\n"), {},
             ["unknown.toml", "metrics.colour", "not a known setting"]),
            (good, {"KIMERA_ID_DUAL_WRITE": "yes"}, ["KIMERA_ID_DUAL_WRITE", "'yes'"]),
            (good, {"KIMERA_METRICS_PORT": "http"}, ["KIMERA_METRICS_PORT", "'http'"]),
            (config("half.toml", '[metrics]\nbasic_auth_password = "pw"\n'), {},
             ["half.toml", "metrics.basic_auth_password", "metrics.basic_auth_user"]),
            (config("nopass.toml", '[metrics]\nbasic_auth_user = "alice"\n'), {},
             ["nopass.toml", "metrics.basic_auth_password", "not empty"]),
            (config("empty.toml", '[metrics]\nbasic_auth_user = "alice"\n'
                    'basic_auth_password = ""\n'), {},
             ["empty.toml", "metrics.basic_auth_password", "not empty"]),
            (config("addr.toml", '[metrics]\nbind_address = "not an ip"\n'), {},
             ["addr.toml", "metrics.bind_address", "IPv4 or IPv6", "not an ip"]),
        ]
        # Every command meets the first two errors (a missing file, a folder);
        # each later one is met by three commands, rotating, so that every
        # command meets a key or environment error too: 51 runs instead of
        # 135, which under ASan were a minute and a half of CI.
        n = len(self.EVERY_COMMAND)
        for i, (path, extra_env, expected) in enumerate(cases):
            commands = (self.EVERY_COMMAND if i < 2 else
                        [self.EVERY_COMMAND[(3 * i + k) % n] for k in range(3)])
            env = dict(os.environ)
            env.pop("KIMERA_CONFIG", None)
            for name in ("KIMERA_ID_DUAL_WRITE", "KIMERA_METRICS_PORT", "KIMERA_METRICS_ENABLED",
                         "KIMERA_METRICS_DETAILED"):
                env.pop(name, None)
            env.update(extra_env)
            for command in commands:
                r = subprocess.run([KIMERA, "--db", self.db, "--config", path, *command],
                                   input="", capture_output=True, text=True, env=env,
                                   timeout=120)
                what = "%s %s %s: %s" % (path, extra_env, command, r.stderr)
                self.assertEqual(r.returncode, 1, what)
                self.assertIn("configuration error", r.stderr, what)
                for text in expected:
                    self.assertIn(text, r.stderr, what)
                self.assertEqual(r.stderr.count("kimera:"), 1, what)
                self.assertFalse(os.path.exists(self.db), "database created: " + what)

    def test_version_is_the_project_version(self):
        r = self.kimera("--version")
        self.assertEqual(r.returncode, 0, r.stderr)
        meson_build = os.path.join(os.environ["KIMERA_SOURCE_ROOT"], "meson.build")
        with open(meson_build, encoding="utf-8") as f:
            declared = re.search(r"version\s*:\s*'([^']+)'", f.read()).group(1)
        self.assertEqual(r.stdout.strip(), declared)
        self.assertFalse(os.path.exists(self.db), "--version opened the database")

    def test_unopenable_database_exits_3(self):
        not_a_dir = os.path.join(self.tmp.name, "file")
        with open(not_a_dir, "w") as f:
            f.write("x")
        r = self.kimera("count", db=os.path.join(not_a_dir, "db"))
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertTrue(r.stderr.strip())

    def test_database_locked_by_another_process_exits_3(self):
        holder = subprocess.Popen([KIMERA, "--db", self.db, "import", "-"],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            while not os.path.exists(os.path.join(self.db, "CURRENT")):
                self.assertLess(time.monotonic(), deadline, "import never opened the database")
                time.sleep(0.05)
            time.sleep(0.5)
            # Commands that write need the lock...
            r = self.kimera("check", "--repair")
            self.assertEqual(r.returncode, 3, r.stderr)
            self.assertIn(self.db, r.stderr)
            self.assertIn("lock", r.stderr)
            # ...commands that only read open read-only, beside the holder.
            r = self.kimera("count")
            self.assertEqual((r.returncode, r.stdout.strip()), (0, "0"), r.stderr)
        finally:
            holder.stdin.close()
            holder.wait(timeout=60)
            holder.stderr.close()
        self.assertEqual(holder.returncode, 0)

    def ldb(self, *args):
        """RocksDB's own ldb tool, to change the database behind kimera's back."""
        r = subprocess.run(["ldb", "--db=" + self.db, *args], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def test_check_reports_and_repairs_index_problems(self):
        self.import_sample()
        r = self.kimera("check")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("records: 60, index entries: 60, problems: 0", r.stdout)

        # A record deleted behind the index leaves an orphan entry; an index key
        # deleted leaves a record unindexed.
        self.ldb("--column_family=identities", "delete", "--key_hex",
                 "0x" + b"scar_00042".hex())
        index_keys = self.ldb("--column_family=entropy_index", "scan", "--hex")
        geoid_key = next(line.split(" ")[0] for line in index_keys.splitlines()
                         if b"geoid_00003".hex().upper() in line.upper())
        self.ldb("--column_family=entropy_index", "delete", "--key_hex", geoid_key)

        r = self.kimera("check")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("scar_00042", r.stdout)
        self.assertIn("geoid_00003", r.stdout)
        # Two entries, the count of scars (read from the totals stored at the
        # import's close, not counted), and those totals against the entries.
        self.assertIn("problems: 4", r.stdout)
        self.assertIn("count of scar is 20, records: 19", r.stdout)
        self.assertIn("stored totals differ from its entries", r.stdout)

        # A writable open sets the stored totals aside (its close writes them
        # again): the two entries and the count are left to repair.
        r = self.kimera("check", "--repair")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("repaired: 3", r.stdout)
        r = self.kimera("check")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("records: 59, index entries: 59, problems: 0", r.stdout)
        r = self.kimera("count")
        self.assertEqual(r.stdout.strip(), "59")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: cli_roundtrip_test.py KIMERA_BINARY DATA_DIR")
    KIMERA = os.path.abspath(sys.argv[1])
    DATA_DIR = sys.argv[2]
    unittest.main(argv=[sys.argv[0], "-v"])
