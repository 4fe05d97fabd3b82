"""Where kimera_entropy finds libkimera.so, in order, and what it says when it cannot."""

import os
import re
import subprocess
import sys

import pytest

import kimera_entropy
from kimera_entropy import _native

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(kimera_entropy.__file__)))
LIB = kimera_entropy.library_path


def run_import(env_changes):
    env = {k: v for k, v in os.environ.items()
           if k not in ("KIMERA_LIBRARY", "KIMERA_BUILD_DIR")}
    env.update(env_changes)
    env["PYTHONPATH"] = PYTHON_DIR
    return subprocess.run(
        [sys.executable, "-c", "import kimera_entropy as k; print(k.library_path)"],
        env=env, capture_output=True, text=True, timeout=60)


def test_kimera_library_wins():
    r = run_import({"KIMERA_LIBRARY": LIB, "KIMERA_BUILD_DIR": "/nonexistent"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == LIB


def test_a_missing_kimera_library_does_not_fall_back():
    r = run_import({"KIMERA_LIBRARY": "/nonexistent/libkimera.so",
                    "KIMERA_BUILD_DIR": os.path.dirname(LIB)})
    assert r.returncode != 0
    assert "LibraryNotFound" in r.stderr and "/nonexistent/libkimera.so" in r.stderr
    assert "KIMERA_LIBRARY" in r.stderr


def test_build_dir_is_used_without_kimera_library():
    r = run_import({"KIMERA_BUILD_DIR": os.path.dirname(LIB)})
    assert r.returncode == 0, r.stderr
    assert os.path.realpath(r.stdout.strip()) == os.path.realpath(LIB)


def test_a_library_without_the_c_abi_is_refused():
    r = run_import({"KIMERA_LIBRARY": "libc.so.6"})
    assert r.returncode != 0 and "kimera_abi_version" in r.stderr


def test_search_order(monkeypatch):
    monkeypatch.delenv("KIMERA_LIBRARY", raising=False)
    monkeypatch.setenv("KIMERA_BUILD_DIR", "/b")
    kinds = [how for how, _ in _native.candidate_paths()]
    assert kinds[0] == "KIMERA_BUILD_DIR" and kinds[1] == "build folder"
    assert kinds.index("build folder") < kinds.index("installed")
    paths = [p for _, p in _native.candidate_paths()]
    assert paths[0] == "/b/libkimera.so"
    assert paths[1].endswith(os.path.join("build", "libkimera.so"))
    monkeypatch.setenv("KIMERA_LIBRARY", "/x/libkimera.so")
    assert _native.candidate_paths() == [("KIMERA_LIBRARY", "/x/libkimera.so")]


def test_the_prototypes_are_the_headers_functions_with_their_arity():
    header = os.path.join(PYTHON_DIR, os.pardir, "c_api", "include", "kimera", "kimera_c.h")
    with open(header, encoding="utf-8") as f:
        text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    declared = {}
    for name, params in re.findall(r"\b(kimera_\w+)\s*\(([^)]*)\)\s*;", text):
        params = params.strip()
        declared[name] = 0 if params in ("", "void") else params.count(",") + 1
    # kimera_abi_version is declared at load, before the version check.
    assert declared.pop("kimera_abi_version") == len(_native.lib.kimera_abi_version.argtypes)
    assert declared == {name: len(argtypes)
                        for name, (_, argtypes) in _native._PROTOTYPES.items()}


def test_a_library_lacking_a_function_is_refused_by_name():
    class Old:
        kimera_abi_version = _native.lib.kimera_abi_version

    with pytest.raises(ImportError, match="kimera_form_store"):
        _native._declare(Old(), "/old/libkimera.so")
