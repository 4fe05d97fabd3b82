"""compat's db_path rules: a file marker beside a data folder (kimera_entropy/_paths.py)."""

import glob
import json
import os
import tempfile

import pytest

import kimera_entropy
from kimera_entropy import _paths, compat
from conftest import geoid


def test_new_path_gets_a_marker_and_a_folder(db_path):
    s = compat.LatticeStorage(db_path)
    try:
        s.store_identity(geoid("g"))
    finally:
        s.close()
    with open(db_path, encoding="utf-8") as f:
        marker = json.loads(f.readline())
    assert marker["magic"] == "kimera-entropy-store"
    with open(os.path.join(db_path + ".kimera", "store.json"), encoding="utf-8") as f:
        assert json.load(f)["store_id"] == marker["store_id"]
    assert os.path.isdir(os.path.join(db_path + ".kimera", "db"))
    s = compat.LatticeStorage(db_path)
    try:
        assert s.fetch_identity("g").id == "g"
    finally:
        s.close()


def test_delete_then_reopen_is_a_fresh_empty_store(db_path):
    s = compat.LatticeStorage(db_path)
    s.store_identity(geoid("old"))
    s.close()
    os.remove(db_path)
    with pytest.warns(RuntimeWarning, match="moved aside"):
        s = compat.LatticeStorage(db_path)
    try:
        assert s.get_identity_count() == 0
        assert s.fetch_identity("old") is None
        s.store_identity(geoid("new"))
    finally:
        s.close()
    orphans = glob.glob(db_path + ".kimera.orphan-*")
    assert len(orphans) == 1 and os.path.isdir(os.path.join(orphans[0], "db"))
    s = compat.LatticeStorage(db_path)
    try:
        assert s.get_identity_count() == 1
    finally:
        s.close()


def test_existing_empty_file_is_fine(tmp_path):
    with tempfile.NamedTemporaryFile(dir=tmp_path, suffix=".db", delete=False) as f:
        path = f.name
    assert os.path.getsize(path) == 0
    s = compat.LatticeStorage(path)
    try:
        s.store_identity(geoid("e"))
        assert s.get_identity_count() == 1
    finally:
        s.close()
    with open(path, encoding="utf-8") as f:
        assert json.loads(f.readline())["magic"] == _paths.MAGIC


@pytest.mark.parametrize("content", [b"SQLite format 3\x00", b"not ours\n",
                                     b'{"magic": "other"}\n'])
def test_foreign_file_is_refused_and_left_alone(tmp_path, content):
    path = str(tmp_path / "foreign.db")
    with open(path, "wb") as f:
        f.write(content)
    with pytest.raises(kimera_entropy.InvalidArgument) as e:
        compat.LatticeStorage(path)
    assert path in str(e.value)
    with open(path, "rb") as f:
        assert f.read() == content
    assert not os.path.exists(path + ".kimera")


def test_missing_parent_folder_names_the_path(tmp_path):
    path = str(tmp_path / "nope" / "x.db")
    with pytest.raises(OSError) as e:
        compat.LatticeStorage(path)
    assert path in str(e.value)


def test_memory_is_temporary_and_private():
    a = compat.LatticeStorage(":memory:")
    b = compat.LatticeStorage(":memory:")
    folder = a._shared.folder
    try:
        a.store_identity(geoid("m"))
        assert a.get_identity_count() == 1 and b.get_identity_count() == 0
    finally:
        a.close()
        b.close()
    assert not os.path.exists(folder)
    assert not os.path.exists(":memory:")


def test_same_path_twice_shares_one_store(db_path):
    a = compat.LatticeStorage(db_path)
    b = compat.LatticeStorage(os.path.join(os.path.dirname(db_path), ".", "kimera_lattice.db"))
    try:
        assert a._shared is b._shared and a._shared.refs == 2
        a.store_identity(geoid("shared"))
        assert b.fetch_identity("shared").id == "shared"
        a.close()
        assert b.get_identity_count() == 1
    finally:
        a.close()
        b.close()
    assert _paths._open == {}


def test_symlinked_path_shares_by_realpath(tmp_path):
    real = str(tmp_path / "real.db")
    link = str(tmp_path / "link.db")
    a = compat.LatticeStorage(real)
    os.symlink(real, link)
    b = compat.LatticeStorage(link)
    try:
        assert a._shared is b._shared
    finally:
        a.close()
        b.close()


def test_a_store_opened_through_a_symlink_is_found_through_its_target(tmp_path):
    real = str(tmp_path / "real.db")
    link = str(tmp_path / "link.db")
    open(real, "w").close()
    os.symlink(real, link)
    s = compat.LatticeStorage(link)
    s.store_identity(geoid("through-link"))
    s.close()
    s = compat.LatticeStorage(real)
    try:
        assert s.fetch_identity("through-link") is not None
    finally:
        s.close()


def test_folder_of_a_lost_marker_is_kept_aside_not_deleted(db_path):
    s = compat.LatticeStorage(db_path)
    s.store_identity(geoid("keep"))
    s.close()
    with open(db_path, "w", encoding="utf-8") as f:
        f.write("")  # emptied, as a test harness truncating the file would
    with pytest.warns(RuntimeWarning):
        s = compat.LatticeStorage(db_path)
    s.close()
    orphan = glob.glob(db_path + ".kimera.orphan-*")[0]
    with kimera_entropy.Store(os.path.join(orphan, "db")) as old:
        assert old.fetch("keep")["id"] == "keep"


def test_pathlike_db_path(tmp_path):
    s = compat.LatticeStorage(tmp_path / "p.db")
    try:
        assert s.db_path == str(tmp_path / "p.db")
    finally:
        s.close()
