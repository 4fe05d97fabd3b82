#!/usr/bin/env python3
"""Hostile folders through the real `kimera` program.

Two database folders that are one folder under another name (a trailing
slash, ./db/, an absolute path, a symlink) or nested in one another are
refused before anything is written (exit 1, both paths named); read commands
pointed at a folder without a database fail with exit 3 and `no database at
PATH`, create nothing and write nothing into an unrelated folder.

Usage: hostile_folders_test.py KIMERA_BINARY SAMPLES_JSONL
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

KIMERA = None
SAMPLES = None


def snapshot(folder):
    """Every file under `folder` with its size and mtime."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            out[os.path.relpath(path, folder)] = (st.st_size, st.st_mtime_ns)
    return out


class HostileFolders(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kimera_folders_")
        self.db = os.path.join(self.tmp, "db")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_kimera(self, *args, cwd=None):
        r = subprocess.run([KIMERA, *args], capture_output=True, timeout=600, cwd=cwd or self.tmp)
        return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")

    def config(self, body):
        path = os.path.join(self.tmp, "c.toml")
        with open(path, "w", encoding="utf-8") as f:
            f.write("[metrics]\nenabled = false\n\n" + body)
        return path

    def assert_refused(self, config, db_arg, other):
        rc, out, err = self.run_kimera("--db", db_arg, "--config", config, "import", SAMPLES)
        self.assertEqual(rc, 1, f"stdout {out!r} stderr {err!r}")
        self.assertIn(db_arg, err)
        self.assertIn(other, err)
        self.assertNotIn("imported", err)
        # Nothing was written: the database folder was not even created.
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "db", "CURRENT")), err)

    def test_secondary_aliases_of_the_database_are_refused(self):
        os.symlink(self.db, os.path.join(self.tmp, "link"))
        for secondary in [self.db + "/", "./db/", self.db, os.path.join(self.tmp, "link"),
                          self.db + "//", os.path.join(self.tmp, "x", "..", "db")]:
            with self.subTest(secondary=secondary):
                c = self.config('[dual_write]\nenabled = true\nsecondary = "%s"\n' % secondary)
                self.assert_refused(c, "db", secondary)

    def test_secondary_alias_of_an_existing_database_is_refused(self):
        rc, _, err = self.run_kimera("--db", "db", "import", SAMPLES)
        self.assertEqual(rc, 0, err)
        c = self.config('[dual_write]\nenabled = true\nsecondary = "%s/"\n' % self.db)
        rc, out, err = self.run_kimera("--db", "db", "--config", c, "import", SAMPLES)
        self.assertEqual(rc, 1, err)
        rc, out, err = self.run_kimera("--db", "db", "count")
        self.assertEqual((rc, out.strip()), (0, "60"), err)

    def test_nested_folders_are_refused(self):
        c = self.config('[dual_write]\nenabled = true\nsecondary = "%s/second"\n' % self.db)
        self.assert_refused(c, "db", "second")
        c = self.config('[index]\nseparate_path = "%s"\n' % self.tmp)
        self.assert_refused(c, "db", self.tmp)

    def test_separate_index_in_the_database_folder_is_refused(self):
        c = self.config('[index]\nseparate_path = "./db/"\n')
        self.assert_refused(c, "db", "./db/")
        c = self.config('[index]\nseparate_path = "%s/"\n[dual_write]\nenabled = true\n'
                        'secondary = "%s/second"\n' % (self.tmp + "/idx", self.tmp + "/idx"))
        self.assert_refused(c, "db", "idx")

    def test_distinct_folders_still_work(self):
        c = self.config('[index]\nseparate_path = "%s/index"\n[dual_write]\nenabled = true\n'
                        'secondary = "%s/second"\n' % (self.tmp, self.tmp))
        rc, _, err = self.run_kimera("--db", "db", "--config", c, "import", SAMPLES)
        self.assertEqual(rc, 0, err)
        rc, out, err = self.run_kimera("--db", "db", "--config", c, "count")
        self.assertEqual((rc, out.strip()), (0, "60"), err)

    def test_read_commands_do_not_create_a_database(self):
        for args in [["count"], ["get", "x"], ["export"], ["check"], ["verify-decay"],
                     ["query"]]:
            with self.subTest(command=args[0]):
                rc, out, err = self.run_kimera("--db", "typo", *args)
                self.assertEqual(rc, 3, f"stdout {out!r} stderr {err!r}")
                self.assertIn("no database at typo", err)
                self.assertFalse(os.path.exists(os.path.join(self.tmp, "typo")))

    def test_read_commands_leave_an_unrelated_folder_alone(self):
        folder = os.path.join(self.tmp, "photos")
        os.mkdir(folder)
        with open(os.path.join(folder, "a.jpg"), "wb") as f:
            f.write(b"\xff\xd8" * 100)
        before = snapshot(folder)
        for args in [["count"], ["get", "x"], ["export"], ["check"], ["verify-decay"]]:
            with self.subTest(command=args[0]):
                rc, _, err = self.run_kimera("--db", folder, *args)
                self.assertEqual(rc, 3, err)
                self.assertIn("no database at " + folder, err)
                self.assertEqual(snapshot(folder), before)

    def test_writing_commands_other_than_import_do_not_create(self):
        for args in [["decay", "apply"], ["check", "--repair"]]:
            with self.subTest(command=" ".join(args)):
                rc, _, err = self.run_kimera("--db", "typo", *args)
                self.assertEqual(rc, 3, err)
                self.assertIn("no database at typo", err)
                self.assertFalse(os.path.exists(os.path.join(self.tmp, "typo")))


if __name__ == "__main__":
    KIMERA = os.path.abspath(sys.argv[1])
    SAMPLES = os.path.abspath(sys.argv[2])
    unittest.main(argv=sys.argv[:1], verbosity=2)
