#!/usr/bin/env python3
"""End-to-end test of `kimera dual-write` on the reference sample.

Usage: cli_dual_write_test.py KIMERA_BINARY DATA_DIR

With a temporary kimera.toml turning dual-write on (legacy column families),
imports DATA_DIR/reference_sample.jsonl through the real binary, then changes
the legacy tables behind the store's back with RocksDB's ldb (a row deleted,
a row replaced by another identity's row, a row added) and checks that
`verify` names each id with its kind and fields, `repair` fixes them once and
nothing the second time, `stats --json` counts right, KIMERA_ID_DUAL_WRITE=1
turns dual-write on without a file, `cleanup` obeys its rule, and the program
has no kill switch (KIMERA_DUAL_WRITE_CRASH_AT is a test build's only).
The secondary's per-type counts (`stats --json`: the reference's
legacy_geoids_count / legacy_scars_count / total_legacy_count) stay exact
through a type change, a removal, rows changed behind the store's back and
their repair.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

KIMERA = None
DATA_DIR = None

# The reference fields a legacy_geoids row keeps.
LEGACY_GEOID_FIELDS = ["raw", "echo", "lang_axis", "tags", "weight", "meta", "created_at",
                       "updated_at"]


def load_sample():
    with open(os.path.join(DATA_DIR, "reference_sample.jsonl"), encoding="utf-8") as f:
        return [json.loads(line)["identity"] for line in f if line.strip()]


def differences(stdout):
    """{id: (kind, [field, ...])} from the verify/repair listing."""
    found = {}
    current = None
    for line in stdout.splitlines():
        m = re.match(r"difference: (\S+) (\S+)", line)
        if m:
            current = m.group(1)
            found[current] = (m.group(2), [])
            continue
        m = re.match(r"  field (\S+): primary ", line)
        if m and current is not None:
            found[current][1].append(m.group(1))
    return found


class KimeraDualWriteCli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="kimera-dw-cli-test-")
        self.db = os.path.join(self.tmp.name, "db")
        self.sample_path = os.path.join(DATA_DIR, "reference_sample.jsonl")
        self.sample = load_sample()
        self.on = self.write_config("on.toml", "[dual_write]\nenabled = true\n"
                                    "secondary = \"legacy\"\nmode = \"strict\"\n")
        self.off = self.write_config("off.toml", "[dual_write]\nenabled = false\n")
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("KIMERA_CONFIG", "KIMERA_ID_DUAL_WRITE")}

    def tearDown(self):
        self.tmp.cleanup()

    def write_config(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def kimera(self, *args, config=None, env=None, db=None):
        cmd = [KIMERA, "--db", db or self.db]
        if config:
            cmd += ["--config", config]
        return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120,
                              env={**self.env, **(env or {})})

    def ok(self, r, code=0):
        self.assertEqual(r.returncode, code, r.stdout + r.stderr)
        return r

    def ldb(self, *args):
        """RocksDB's own ldb tool, to change the legacy tables behind kimera's back."""
        r = subprocess.run(["ldb", "--db=" + self.db, "--column_family=legacy_geoids", *args],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout.strip()

    def import_sample(self, **kw):
        r = self.ok(self.kimera("import", self.sample_path, **kw))
        self.assertIn("imported 60 identities, 0 bad lines", r.stderr)

    def stats(self, *args, **kw):
        r = self.ok(self.kimera("dual-write", "stats", "--json", *args, **kw))
        return json.loads(r.stdout)

    def sample_counts(self):
        geoids = sum(1 for i in self.sample if i["identity_type"] == "geoid")
        return geoids, len(self.sample) - geoids

    def check_counts(self, stats, geoids, scars, primary=None):
        """The secondary's counts per type, under our names and the reference's."""
        self.assertEqual((stats["secondary_geoids"], stats["secondary_scars"]), (geoids, scars))
        self.assertEqual((stats["legacy_geoids_count"], stats["legacy_scars_count"]),
                         (geoids, scars))
        self.assertEqual(stats["total_legacy_count"], geoids + scars)
        self.assertEqual(stats["secondary_count"], geoids + scars)
        self.assertEqual(stats["new_identities_count"], stats["primary_count"])
        if primary is not None:
            self.assertEqual(stats["primary_count"], primary)

    def test_verify_repair_stats_cleanup(self):
        self.import_sample(config=self.on)
        r = self.ok(self.kimera("dual-write", "verify", config=self.on))
        self.assertIn("visited: 60, differences: 0", r.stdout)
        self.assertNotIn("difference:", r.stdout)

        geoids = {i["id"]: i for i in self.sample if i["identity_type"] == "geoid"}
        ids = sorted(geoids)
        deleted, changed, source = ids[2], ids[4], ids[1]
        expected_fields = [f for f in LEGACY_GEOID_FIELDS
                           if geoids[changed][f] != geoids[source][f]]
        self.assertTrue(expected_fields)
        extra = "geoid_99999"
        self.assertNotIn(extra, geoids)

        # Behind the store's back: a row deleted, a row replaced by another
        # identity's row, a row no primary record has.
        self.ldb("delete", "--key_hex", "0x" + deleted.encode().hex())
        row = self.ldb("get", "--hex", "0x" + source.encode().hex())
        self.assertTrue(row.startswith("0x"), row)
        self.ldb("put", "--hex", "0x" + changed.encode().hex(), row)
        self.ldb("put", "--hex", "0x" + extra.encode().hex(), row)

        r = self.ok(self.kimera("dual-write", "verify", config=self.on), 1)
        found = differences(r.stdout)
        self.assertEqual(set(found), {deleted, changed, extra}, r.stdout)
        self.assertEqual(found[deleted], ("missing_secondary", []))
        self.assertEqual(found[extra], ("missing_primary", []))
        self.assertEqual(found[changed], ("mismatch", expected_fields))
        self.assertIn("visited: 61, differences: 3, repaired: 0, left: 3", r.stdout)

        # The primary is the truth: the secondary follows it, once.
        r = self.ok(self.kimera("dual-write", "repair", config=self.on))
        self.assertIn("fixed: 3 ", r.stdout)
        self.assertIn("left: 0", r.stdout)
        r = self.ok(self.kimera("dual-write", "repair", config=self.on))
        self.assertIn("fixed: 0 ", r.stdout)
        self.assertEqual(differences(r.stdout), {})
        r = self.ok(self.kimera("dual-write", "verify", config=self.on))
        self.assertIn("visited: 60, differences: 0", r.stdout)
        # Repairs only wrote the secondary: the entropy index is still exact.
        r = self.ok(self.kimera("check", config=self.on))
        self.assertIn("records: 60, index entries: 60, problems: 0", r.stdout)

        stats = self.stats(config=self.on)
        self.assertEqual(stats["primary_count"], 60)
        self.assertEqual(stats["secondary_count"], 60)
        self.check_counts(stats, *self.sample_counts(), primary=60)
        self.assertEqual(stats["repair_backlog"], 0)
        self.assertEqual(stats["failures"], 0)
        # 60 stores, 3 repairs.
        self.assertEqual(stats["total_operations"], 63)
        self.assertEqual(stats["successes"], 63)
        self.assertEqual(stats["success_rate"], 1.0)
        recent = stats["recent_operations"]
        self.assertEqual(len(recent), 10)
        seqs = [e["sequence"] for e in recent]
        self.assertEqual(seqs, sorted(seqs, reverse=True))
        self.assertEqual(seqs[0], 63)
        self.assertEqual({e["id"] for e in recent[:3]}, {deleted, changed, extra})
        self.assertTrue(all(e["operation"] == "repair" and e["status"] == "ok"
                            for e in recent[:3]))
        self.assertEqual(recent[3]["operation"], "store")
        self.assertEqual(len(self.stats("--recent", "2", config=self.on)["recent_operations"]), 2)
        r = self.ok(self.kimera("dual-write", "stats", config=self.on))
        self.assertIn("success rate:     100.00 %", r.stdout)
        self.assertIn("secondary count:  60 (%d geoids, %d scars)" % self.sample_counts(),
                      r.stdout)

        # Cleanup needs dual-write off: refused while it is on.
        r = self.ok(self.kimera("dual-write", "cleanup", config=self.on), 1)
        self.assertIn("cleanup refused", r.stderr)
        self.assertIn("dual-write is on", r.stderr)
        r = self.ok(self.kimera("dual-write", "cleanup", config=self.off,
                                env={"KIMERA_ID_DUAL_WRITE": "1"}), 1)
        self.assertIn("dual-write is on", r.stderr)
        # Off, after the clean sweep above: the legacy tables and the log go.
        r = self.ok(self.kimera("dual-write", "cleanup", config=self.off))
        self.assertIn("dropped", r.stdout)
        cfs = subprocess.run(["ldb", "list_column_families", "--db=" + self.db],
                             capture_output=True, text=True, timeout=60).stdout
        for cf in ("legacy_geoids", "legacy_scars", "dual_write_audit"):
            self.assertNotIn(cf, cfs)
        self.assertIn("identities", cfs)
        r = self.ok(self.kimera("count", config=self.off))
        self.assertEqual(r.stdout.strip(), "60")

    def test_reads_version_1_json_rows(self):
        # Rows written before the binary row format: one JSON object each.
        self.import_sample(config=self.on)
        geoid = next(i for i in self.sample if i["identity_type"] == "geoid")
        scar = next(i for i in self.sample if i["identity_type"] == "scar")
        row = {f: geoid[f] for f in LEGACY_GEOID_FIELDS}
        self.ldb("put", "--hex", "0x" + geoid["id"].encode().hex(),
                 "0x" + json.dumps(row).encode().hex())
        scar_row = {f: scar[f] for f in ("weight", "related_ids", "meta", "created_at",
                                         "updated_at")}
        r = subprocess.run(["ldb", "--db=" + self.db, "--column_family=legacy_scars", "put",
                            "--hex", "0x" + scar["id"].encode().hex(),
                            "0x" + json.dumps(scar_row).encode().hex()],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.ok(self.kimera("dual-write", "verify", config=self.on))
        self.assertIn("visited: 60, differences: 0", r.stdout)
        # A changed weight in such a row is found like any other.
        row["weight"] = geoid["weight"] + 0.5
        self.ldb("put", "--hex", "0x" + geoid["id"].encode().hex(),
                 "0x" + json.dumps(row).encode().hex())
        r = self.ok(self.kimera("dual-write", "verify", config=self.on), 1)
        self.assertEqual(differences(r.stdout), {geoid["id"]: ("mismatch", ["weight"])})

    def test_cleanup_refused_without_clean_sweep(self):
        self.import_sample(config=self.on)
        r = self.ok(self.kimera("dual-write", "cleanup", config=self.off), 1)
        self.assertIn("no full sweep without differences", r.stderr)
        # A sweep that finds a difference does not count either.
        self.ldb("delete", "--key_hex", "0x" + b"geoid_00001".hex())
        r = self.ok(self.kimera("dual-write", "verify", config=self.on), 1)
        # The row went behind the counters' back: verify measures the drift.
        geoids, scars = self.sample_counts()
        self.assertIn("secondary counts: %d geoids, %d scars, counters off by -1 geoids, +0 "
                      "scars (kimera dual-write repair corrects them)" % (geoids - 1, scars),
                      r.stdout)
        r = self.ok(self.kimera("dual-write", "cleanup", config=self.off), 1)
        self.assertIn("no full sweep without differences", r.stderr)
        # verify --repair leaves the sides equal and counts as clean.
        r = self.ok(self.kimera("dual-write", "verify", "--repair", config=self.on))
        self.assertIn("differences: 1, repaired: 1, left: 0", r.stdout)
        self.assertIn("counters off by -1 geoids, +0 scars (corrected)", r.stdout)
        self.check_counts(self.stats(config=self.on), geoids, scars, primary=60)
        r = self.ok(self.kimera("dual-write", "verify", config=self.on))
        self.assertIn("secondary counts: %d geoids, %d scars, counters exact" % (geoids, scars),
                      r.stdout)
        self.ok(self.kimera("dual-write", "cleanup", config=self.off))

    def test_counts_per_type_follow_type_changes_and_removes(self):
        self.import_sample(config=self.on)
        geoids, scars = self.sample_counts()
        self.check_counts(self.stats(config=self.on), geoids, scars, primary=60)
        geoid = next(i for i in self.sample if i["identity_type"] == "geoid")
        scar = next(i for i in self.sample if i["identity_type"] == "scar")
        # The same id, now a scar.
        changed = {k: v for k, v in geoid.items()
                   if k not in ("raw", "echo", "lang_axis", "tags")}
        changed.update(identity_type="scar", related_ids=["a", "b"])
        path = os.path.join(self.tmp.name, "changed.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            f.write(json.dumps(changed) + "\n")
        self.ok(self.kimera("import", path, config=self.on))
        self.check_counts(self.stats(config=self.on), geoids - 1, scars + 1, primary=60)
        self.ok(self.kimera("remove", scar["id"], config=self.on))
        self.check_counts(self.stats(config=self.on), geoids - 1, scars, primary=59)
        r = self.ok(self.kimera("dual-write", "verify", config=self.on))
        self.assertIn("secondary counts: %d geoids, %d scars, counters exact" % (geoids - 1, scars),
                      r.stdout)

    def test_until_clean(self):
        self.import_sample(config=self.on)
        self.ldb("delete", "--key_hex", "0x" + b"geoid_00002".hex())
        r = self.ok(self.kimera("dual-write", "verify", "--until-clean", "--max-passes", "3",
                                config=self.on), 1)
        self.assertEqual(differences(r.stdout), {"geoid_00002": ("missing_secondary", [])})
        self.assertIn("passes: 3", r.stdout)
        r = self.ok(self.kimera("dual-write", "verify", "--until-clean", "--repair",
                                config=self.on))
        self.assertIn("left: 0", r.stdout)
        self.ok(self.kimera("dual-write", "verify", "--until-clean", config=self.on))
        r = self.ok(self.kimera("dual-write", "verify", "--max-passes", "0", config=self.on), 2)

    def test_environment_turns_it_on(self):
        # No configuration file at all: only the environment.
        self.import_sample(env={"KIMERA_ID_DUAL_WRITE": "1"})
        stats = self.stats(env={"KIMERA_ID_DUAL_WRITE": "1"})
        self.assertEqual(stats["secondary_count"], 60)
        self.assertEqual(stats["primary_count"], 60)
        self.assertEqual(stats["total_operations"], 60)
        self.ok(self.kimera("dual-write", "verify", env={"KIMERA_ID_DUAL_WRITE": "1"}))

    def test_shipped_program_has_no_kill_switch(self):
        # The crash tests' kill points exist only in a test build of the library: in the
        # program hosts run, the variable changes nothing and every write lands on both sides.
        for point in ("after_primary", "after_secondary", "before_journal_clear"):
            env = {"KIMERA_DUAL_WRITE_CRASH_AT": point}
            r = self.kimera("import", self.sample_path, config=self.on, env=env)
            self.assertEqual(r.returncode, 0, f"{point}: {r.returncode} {r.stderr}")
            stats = self.stats(config=self.on, env=env)
            self.assertEqual((stats["primary_count"], stats["secondary_count"]), (60, 60), point)
        self.ok(self.kimera("dual-write", "verify", config=self.on))

    def test_not_enabled_is_a_usage_error(self):
        self.import_sample()
        for args in (["stats"], ["stats", "--json"], ["verify"], ["verify", "--until-clean"],
                     ["repair"]):
            with self.subTest(args=args):
                r = self.ok(self.kimera("dual-write", *args), 2)
                self.assertIn("dual-write is not enabled", r.stderr)
                r = self.ok(self.kimera("dual-write", *args, config=self.off), 2)
                self.assertIn("dual-write is not enabled", r.stderr)
        r = self.ok(self.kimera("dual-write", "stats", env={"KIMERA_ID_DUAL_WRITE": "0"},
                                config=self.on), 2)
        self.assertIn("dual-write is not enabled", r.stderr)
        self.ok(self.kimera("dual-write"), 2)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: cli_dual_write_test.py KIMERA_BINARY DATA_DIR")
    KIMERA, DATA_DIR = sys.argv[1], sys.argv[2]
    if shutil.which("ldb") is None:
        sys.exit("ldb (rocksdb-tools) is needed")
    unittest.main(argv=sys.argv[:1], verbosity=2)
