#!/usr/bin/env python3
"""Hostile input through `kimera import` (the real program).

Each case writes a JSON Lines file with good lines around the hostile ones,
imports it into a fresh database and checks: exit 1, one clear error per bad
line naming the line (and the field / id when the JSON got that far), every
good line stored, nothing of a bad line stored (count and get), and the peak
memory of the import (its own rusage, from wait4) under a stated bound.

Usage: hostile_import_test.py KIMERA_BINARY
"""
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import unittest

KIMERA = None
SANITIZED = bool(os.environ.get("ASAN_OPTIONS") or os.environ.get("TSAN_OPTIONS"))


def good(i):
    return json.dumps({"id": f"good{i}", "raw": "fine", "tags": ["a", "b"]})


class HostileImport(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kimera_hostile_")
        self.db = os.path.join(self.tmp, "db")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def kimera(self, *args):
        r = subprocess.run([KIMERA, "--db", self.db, *args], capture_output=True, timeout=600)
        return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")

    def import_lines(self, lines):
        """Imports `lines` (bytes or str each); returns (rc, stderr, peak_rss_mib)."""
        path = os.path.join(self.tmp, "in.jsonl")
        with open(path, "wb") as f:
            for line in lines:
                f.write(line if isinstance(line, bytes) else line.encode())
                f.write(b"\n")
        proc = subprocess.Popen([KIMERA, "--db", self.db, "import", path],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        err = proc.stderr.read()
        proc.stderr.close()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        return proc.returncode, err.decode("utf-8", "replace"), usage.ru_maxrss / 1024

    def count(self):
        rc, out, err = self.kimera("count")
        self.assertEqual(rc, 0, err)
        return int(out.split()[0])

    def absent(self, ident):
        rc, _, _ = self.kimera("get", ident)
        self.assertEqual(rc, 2, f"{ident!r} should not be stored")

    def check_bad_lines(self, err, line_numbers, words=()):
        for n in line_numbers:
            self.assertIn(f"line {n}:", err)
        for w in words:
            self.assertIn(w, err)

    def test_ten_thousand_identity_types(self):
        lines = [good(0)] + [json.dumps({"id": f"t{i}", "identity_type": f"type_{i}"})
                             for i in range(10000)] + [good(1)]
        rc, err, _ = self.import_lines(lines)
        self.assertEqual(rc, 1)
        self.assertIn("imported 2 identities, 10000 bad lines", err)
        self.check_bad_lines(err, [2, 5001, 10001], ["identity_type", "t9999"])
        self.assertEqual(self.count(), 2)
        self.absent("t0")

    def test_id_512_accepted_513_rejected(self):
        rc, err, _ = self.import_lines([json.dumps({"id": "i" * 512}),
                                        json.dumps({"id": "j" * 513})])
        self.assertEqual(rc, 1)
        self.check_bad_lines(err, [2], ["id", "512"])
        self.assertEqual(self.count(), 1)
        rc, out, _ = self.kimera("get", "i" * 512)
        self.assertEqual(rc, 0)
        self.absent("j" * 513)

    def test_hundred_thousand_terms(self):
        terms = [{"term": f"t{i}", "intensity": 1} for i in range(100000)]
        rc, err, peak = self.import_lines([json.dumps({"id": "many", "meta": {"terms": terms}})])
        self.assertEqual(rc, 0, err)
        # ~2.8 MB of text, a DOM of 100,000 small maps (< 60 MB), the record,
        # plus RocksDB's block cache and memtables from the default config.
        self.assertLess(peak, 512 if not SANITIZED else 4096, f"peak RSS {peak:.0f} MiB")
        rc, out, _ = self.kimera("get", "many")
        self.assertEqual(rc, 0)
        rc, out, _ = self.kimera("export")
        row = json.loads(out.splitlines()[0])
        self.assertAlmostEqual(row["entropy"], math.log2(100000), places=9)

    def test_deep_meta(self):
        depth = 100000
        deep = '{"id":"deep","meta":' + '{"a":' * depth + "1" + "}" * depth + "}"
        arrays = '{"id":"deep2","meta":{"x":' + "[" * depth + "]" * depth + "}}"
        rc, err, _ = self.import_lines([good(0), deep, arrays, good(1)])
        self.assertEqual(rc, 1, err)
        self.check_bad_lines(err, [2, 3], ["meta", "deep", "nested deeper"])
        self.assertEqual(self.count(), 2)
        self.absent("deep")

    def test_invalid_utf8_each_field(self):
        lines = [good(0)]
        fields = ["id", "identity_type", "raw", "echo", "lang_axis", "tags", "related_ids", "meta"]
        for n, field in enumerate(fields):
            bad = b'"x\xff\xfe"'
            if field in ("tags", "related_ids"):
                value = b"[" + bad + b"]"
            elif field == "meta":
                value = b'{"k":' + bad + b"}"
            else:
                value = bad
            ident = b'"u%d"' % n if field != "id" else bad
            line = b'{"id":' + ident + (b',"' + field.encode() + b'":' + value if field != "id" else b"") + b"}"
            lines.append(line)
        lines.append(b'{"id":"s","raw":"\\ud800"}')
        lines.append(good(1))
        rc, err, _ = self.import_lines(lines)
        self.assertEqual(rc, 1)
        self.check_bad_lines(err, range(2, 2 + len(fields) + 1))
        self.assertIn(f"imported 2 identities, {len(fields) + 1} bad lines", err)
        self.assertNotIn("\ufffd", err, "the report quotes no invalid UTF-8 bytes")
        self.assertEqual(self.count(), 2)

    def test_nan_infinity_huge_numbers(self):
        bad = ['{"id":"n1","weight":NaN}', '{"id":"n2","weight":Infinity}',
               '{"id":"n3","weight":-Infinity}', '{"id":"n4","weight":1e400}',
               '{"id":"n5","meta":{"terms":[{"term":"a","intensity":1e400}]}}',
               '{"id":"n6","meta":{"x":1e400}}']
        rc, err, _ = self.import_lines([good(0)] + bad + [good(1)])
        self.assertEqual(rc, 1)
        # NaN / Infinity are not JSON; 1e400 overflows a double: the parser
        # refuses them and the line says which number.
        self.check_bad_lines(err, range(2, 2 + len(bad)), ["overflow", "1e400"])
        self.assertEqual(self.count(), 2)
        for i in range(1, 7):
            self.absent(f"n{i}")

    def test_twenty_mib_line(self):
        huge = '{"id":"huge","raw":"' + "r" * (20 << 20) + '"}'
        over = '{"id":"over","raw":"' + "o" * (33 << 20) + '"}'
        rc, err, peak = self.import_lines([good(0), huge, over, good(1)])
        self.assertEqual(rc, 1)
        self.check_bad_lines(err, [2, 3], ["huge", "longer than 32 MiB"])
        # The 20 MiB line is held once as text, once parsed, once in the
        # identity and once while encoding (~80 MiB); the 33 MiB line is
        # skipped without being held. 400 MiB bounds that plus RocksDB.
        self.assertLess(peak, 400 if not SANITIZED else 4096, f"peak RSS {peak:.0f} MiB")
        self.assertEqual(self.count(), 2)
        self.absent("huge")
        self.absent("over")
        print(f"20 MiB line: peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    KIMERA = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
