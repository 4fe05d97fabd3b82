#!/usr/bin/env python3
"""Data safety of the `kimera` program on damaged and shared databases.

- A write-ahead log damaged in the middle: every command that opens the
  database says so (the file, the bytes) and exits 3; --salvage opens it with
  every record still readable and reports what was lost.
- A log torn at its tail (what a crash leaves) opens, with a warning.
- A corrupt SST: export reports it; --salvage exports every readable record.
- A clean close of a writing command flushes: the log is not the only copy.
- Read commands work on a read-only copy (no lock, nothing written).

Usage: cli_safety_test.py KIMERA_BINARY SAMPLES_JSONL
"""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

KIMERA = None
SAMPLES = None


def sample_ids():
    with open(SAMPLES, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [row.get("identity", row)["id"] for row in rows]


class CliSafety(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kimera_safety_")
        self.db = os.path.join(self.tmp, "db")
        self.ids = sample_ids()

    def tearDown(self):
        for root, dirs, _ in os.walk(self.tmp):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def kimera(self, *args, db=None):
        r = subprocess.run([KIMERA, "--db", db or self.db, *args], capture_output=True,
                           timeout=300)
        return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")

    def import_then_crash(self, batch=1):
        """Imports the samples through stdin and kills the importer: the data is
        only in the write-ahead log, as after a crash. With batch=1 each sample
        is a record of its own in the log."""
        proc = subprocess.Popen([KIMERA, "--db", self.db, "import", "--batch", str(batch), "-"],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        with open(SAMPLES, "rb") as f:
            proc.stdin.write(f.read())
        # Blank lines (skipped) fill import's 1 MiB read buffer, so it stores
        # every sample while it waits for more input.
        proc.stdin.write(b"\n" * (1 << 20))
        proc.stdin.flush()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            rc, out, _ = self.kimera("count")
            if rc == 0 and out.strip() == str(len(self.ids)):
                break
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdin.close()

    def wal(self):
        logs = [p for p in glob.glob(os.path.join(self.db, "*.log")) if os.path.getsize(p) > 0]
        self.assertEqual(len(logs), 1, logs)
        return logs[0]

    def exported_ids(self, out):
        return [json.loads(line)["id"] for line in out.splitlines() if line.strip()]

    def test_damaged_log_is_reported_and_salvaged(self):
        self.import_then_crash()
        log = self.wal()
        size = os.path.getsize(log)
        with open(log, "r+b") as f:
            f.seek(size // 2)
            f.write(b"\xab" * 32)
        name = os.path.basename(log)
        for args in [["count"], ["check"], ["export"], ["get", self.ids[-1]], ["verify-decay"],
                     ["import", SAMPLES]]:
            with self.subTest(command=args[0]):
                rc, out, err = self.kimera(*args)
                self.assertEqual(rc, 3, f"stdout {out[:200]!r} stderr {err!r}")
                self.assertIn(name, err)
                self.assertIn("bytes", err)
                self.assertIn("--salvage", err)
        rc, out, err = self.kimera("--salvage", "export")
        self.assertEqual(rc, 0, err)
        self.assertIn("salvaged", err)
        self.assertIn(name, err)
        got = self.exported_ids(out)
        # Only the batches in the 32 damaged bytes are gone, not the 46 after them.
        self.assertGreaterEqual(len(got), len(self.ids) - 3)
        self.assertLess(len(got), len(self.ids))
        self.assertTrue(set(got) <= set(self.ids))
        self.assertIn("missing", err)
        # A writing command with --salvage keeps what was salvaged.
        rc, out, err = self.kimera("--salvage", "check", "--repair")
        self.assertEqual(rc, 0, out + err)
        rc, out, err = self.kimera("count")
        self.assertEqual((rc, out.strip()), (0, str(len(got))), err)
        rc, out, err = self.kimera("check")
        self.assertEqual(rc, 0, out + err)

    def test_log_torn_at_its_tail_opens_with_a_warning(self):
        self.import_then_crash()
        log = self.wal()
        with open(log, "r+b") as f:
            f.truncate(os.path.getsize(log) - 10)
        rc, out, err = self.kimera("count")
        self.assertEqual((rc, out.strip()), (0, str(len(self.ids) - 1)), err)
        self.assertIn(os.path.basename(log), err)
        self.assertIn("ended inside a record", err)
        rc, out, err = self.kimera("--salvage", "export")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.exported_ids(out), sorted(self.ids)[:0] + sorted(
            i for i in self.ids if i != self.ids[-1]))

    def test_log_torn_inside_a_batch_loses_the_whole_batch(self):
        # Every sample in one batch of the default size: one record of the
        # log, so a torn tail takes all of it, never a part.
        self.import_then_crash(batch=1000)
        log = self.wal()
        with open(log, "r+b") as f:
            f.truncate(os.path.getsize(log) - 10)
        rc, out, err = self.kimera("count")
        self.assertEqual((rc, out.strip()), (0, "0"), err)
        self.assertIn("ended inside a record", err)
        rc, out, err = self.kimera("check")
        self.assertEqual(rc, 0, out + err)
        # Resuming is running the same import again.
        rc, _, err = self.kimera("import", SAMPLES)
        self.assertEqual(rc, 0, err)
        rc, out, err = self.kimera("count")
        self.assertEqual((rc, out.strip()), (0, str(len(self.ids))), err)

    def test_clean_close_flushes(self):
        rc, _, err = self.kimera("import", SAMPLES)
        self.assertEqual(rc, 0, err)
        self.assertTrue(glob.glob(os.path.join(self.db, "*.sst")))
        for log in glob.glob(os.path.join(self.db, "*.log")):
            with open(log, "r+b") as f:
                f.write(b"\xab" * min(32, os.path.getsize(log)))
        rc, out, err = self.kimera("count")
        self.assertEqual((rc, out.strip()), (0, str(len(self.ids))), err)

    def test_corrupt_sst_is_reported_and_salvaged(self):
        rc, _, err = self.kimera("import", SAMPLES)
        self.assertEqual(rc, 0, err)
        ssts = sorted(glob.glob(os.path.join(self.db, "*.sst")), key=os.path.getsize)
        self.assertTrue(ssts)
        with open(ssts[-1], "r+b") as f:
            f.seek(200)
            f.write(b"\xab" * 64)
        rc, out, err = self.kimera("export")
        self.assertEqual(rc, 3, err)
        self.assertIn("orruption", err)
        self.assertIn("--salvage", err)
        rc, out, err = self.kimera("--salvage", "export")
        self.assertEqual(rc, 0, err)
        got = self.exported_ids(out)
        self.assertIn("unreadable", err)
        self.assertTrue(set(got) <= set(self.ids))
        self.assertEqual(got, sorted(got))
        self.assertGreater(len(got), 0)
        self.assertLess(len(got), len(self.ids))

    def test_read_commands_write_nothing_and_work_on_a_read_only_copy(self):
        rc, _, err = self.kimera("import", SAMPLES)
        self.assertEqual(rc, 0, err)

        def snapshot():
            return {name: (os.path.getsize(os.path.join(self.db, name)),
                           os.stat(os.path.join(self.db, name)).st_mtime_ns)
                    for name in os.listdir(self.db)}

        for root, _, files in os.walk(self.db):
            for name in files:
                os.chmod(os.path.join(root, name), 0o444)
        os.chmod(self.db, 0o555)
        before = snapshot()
        rc, out, err = self.kimera("count")
        self.assertEqual((rc, out.strip()), (0, str(len(self.ids))), err)
        rc, out, err = self.kimera("export")
        self.assertEqual((rc, len(self.exported_ids(out))), (0, len(self.ids)), err)
        rc, out, err = self.kimera("get", self.ids[0])
        self.assertEqual(rc, 0, err)
        rc, out, err = self.kimera("check")
        self.assertEqual(rc, 0, out + err)
        rc, out, err = self.kimera("verify-decay")
        self.assertEqual(rc, 0, out + err)
        rc, out, err = self.kimera("query")
        self.assertEqual(rc, 0, out + err)
        # Not even the info LOG is rotated: the folder is exactly as it was.
        self.assertEqual(snapshot(), before)

if __name__ == "__main__":
    KIMERA = os.path.abspath(sys.argv[1])
    SAMPLES = os.path.abspath(sys.argv[2])
    unittest.main(argv=sys.argv[:1], verbosity=2)
