"""Every function kimera_c.h declares is exported by libkimera.so, as a
ctypes host (the Python package) finds it, and the loaded library reports
the header's ABI version.

Usage: exports_test.py HEADER LIBRARY
"""
import ctypes
import re
import sys
import unittest

DECLARATION = re.compile(r'^[a-z_ ]+\**\s*\**(kimera_\w+)\(', re.MULTILINE)
ABI_VERSION = re.compile(r'#define KIMERA_C_ABI_VERSION (\d+)')


class Exports(unittest.TestCase):
    header = ''
    library = ''

    def setUp(self):
        with open(self.header, encoding='utf-8') as f:
            self.text = f.read()
        self.lib = ctypes.CDLL(self.library)

    def test_every_declared_function_is_exported(self):
        names = DECLARATION.findall(self.text)
        self.assertGreaterEqual(len(names), 30, 'the header parse found too few functions')
        missing = [n for n in names if not hasattr(self.lib, n)]
        self.assertEqual(missing, [], f'not exported by {self.library}')

    def test_abi_version_matches_the_header(self):
        self.assertEqual(self.lib.kimera_abi_version(), int(ABI_VERSION.search(self.text)[1]))


if __name__ == '__main__':
    Exports.header, Exports.library = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0]], verbosity=2)
