"""The installed headers are what a host needs, and only that.

For every header `meson install` puts under include/kimera (passed as
arguments after the compiler): it includes no RocksDB or prometheus-cpp
header, every kimera header it includes is installed too, and it compiles on
its own from a folder that holds only the installed headers.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

FORBIDDEN = re.compile(r'^\s*#\s*include\s*[<"](rocksdb|prometheus)/', re.MULTILINE)
KIMERA_INCLUDE = re.compile(r'^\s*#\s*include\s*"kimera/([^"]+)"', re.MULTILINE)


class InstalledHeaders(unittest.TestCase):
    compiler = []
    headers = []

    def setUp(self):
        self.names = {os.path.basename(h): h for h in self.headers}
        self.assertGreater(len(self.names), 10, "the installed header list is missing")

    def test_no_engine_or_metrics_library_header(self):
        for name, path in sorted(self.names.items()):
            with open(path, encoding="utf-8") as f:
                found = FORBIDDEN.findall(f.read())
            self.assertEqual(found, [], f"{name} includes {found} headers")

    def test_every_kimera_include_is_installed(self):
        for name, path in sorted(self.names.items()):
            with open(path, encoding="utf-8") as f:
                for included in KIMERA_INCLUDE.findall(f.read()):
                    self.assertIn(included, self.names,
                                  f"{name} includes kimera/{included}, which is not installed")

    def test_each_compiles_alone_from_the_installed_folder(self):
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, "kimera"))
            for name, path in self.names.items():
                shutil.copy(path, os.path.join(tmp, "kimera", name))
            for name in sorted(self.names):
                run = subprocess.run(
                    self.compiler + ["-std=c++20", "-fsyntax-only", "-Wall", "-Wextra",
                                     "-Werror", "-I", tmp, "-x", "c++", "-"],
                    input=f'#include "kimera/{name}"\n', capture_output=True, text=True)
                self.assertEqual(run.returncode, 0, f"{name} alone:\n{run.stderr[-2000:]}")


if __name__ == "__main__":
    split = sys.argv.index("--")
    InstalledHeaders.compiler = sys.argv[1:split]
    InstalledHeaders.headers = sys.argv[split + 1:]
    unittest.main(argv=[sys.argv[0]], verbosity=2)
