"""Echo forms through Store and compat: store, fetch, list, count, prune, decay, conn."""

import math
import time

import pytest

import kimera_entropy
from kimera_entropy import compat
from conftest import HostEchoForm


ROW_KEYS = {"anchor", "created_at", "updated_at", "domain", "phase", "intensity_sum"}


@pytest.fixture
def storage(db_path):
    s = compat.LatticeStorage(db_path)
    yield s
    s.close()


def test_store_level_form_calls(store):
    form = {"anchor": "a1", "blob": {"anchor": "a1", "terms": [{"intensity": 2.0}]},
            "domain": "d", "phase": 0.25, "intensity_sum": 2.0}
    store.form_store(form)
    got = store.form_fetch("a1")
    assert got["blob"] == form["blob"] and got["domain"] == "d" and got["phase"] == 0.25
    assert isinstance(got["created_at"], float) and isinstance(got["updated_at"], float)
    assert store.form_get("none") is None
    with pytest.raises(kimera_entropy.NotFound):
        store.form_fetch("none")
    assert store.form_count() == 1 and store.form_count("d") == 1 and store.form_count("x") == 0
    assert [f["anchor"] for f in store.form_list()] == ["a1"]
    assert store.form_decay(86400.0, now=time.time() + 86400) == 1
    assert store.form_fetch("a1")["intensity_sum"] == pytest.approx(2.0 * math.exp(-1), rel=1e-3)
    assert store.form_prune(0.0, now=time.time() + 10) == 1
    assert store.form_count() == 0
    with pytest.raises(kimera_entropy.InvalidArgument):
        store.form_store({"anchor": "", "blob": {}})


def test_host_forms_round_trip(storage, host_modules):
    form = HostEchoForm("anchor-1", domain="cls", phase=0.5,
                        terms=[{"term": "a", "intensity": 2.0}, {"term": "b", "intensity": True},
                               {"term": "c", "intensity": "x"}])
    assert storage.store_form(form) is None
    got = storage.fetch_form("anchor-1")
    assert isinstance(got, HostEchoForm)
    assert got.flatten() == form.flatten()
    assert storage.fetch_form("absent") is None
    rows = storage.list_forms()
    assert len(rows) == 1 and set(rows[0]) == ROW_KEYS
    assert rows[0]["intensity_sum"] == pytest.approx(3.0)
    assert rows[0]["domain"] == "cls" and rows[0]["phase"] == 0.5


def test_without_host_module_forms_come_back_as_dicts(storage):
    blob = {"anchor": "d1", "domain": "x", "phase": 1, "terms": []}
    storage.store_form(blob)
    assert storage.fetch_form("d1") == blob


def test_update_keeps_created_at(storage):
    storage.store_form({"anchor": "u", "domain": "a", "terms": []})
    first = storage.list_forms()[0]
    time.sleep(0.01)
    storage.update_form({"anchor": "u", "domain": "b", "terms": []})
    second = storage.list_forms()[0]
    assert second["created_at"] == first["created_at"]
    assert second["updated_at"] > first["updated_at"] and second["domain"] == "b"


def test_list_count_prune_and_decay(storage):
    for i in range(5):
        storage.store_form({"anchor": "f%d" % i, "domain": "even" if i % 2 == 0 else "odd",
                            "terms": [{"intensity": 1.0}]})
        time.sleep(0.002)
    assert [r["anchor"] for r in storage.list_forms(limit=3)] == ["f4", "f3", "f2"]
    assert [r["anchor"] for r in storage.list_forms(domain="odd")] == ["f3", "f1"]
    assert storage.get_form_count() == 5 and storage.get_form_count(domain="even") == 3
    assert storage.apply_time_decay(tau_days=14.0) is None
    assert storage.prune_old_forms() == 0
    assert storage.prune_old_forms(older_than_days=1) == 0
    time.sleep(0.05)
    assert storage.prune_old_forms(older_than_seconds=0.01) == 5
    assert storage.get_form_count() == 0


def test_conn_deletes_a_domain(storage):
    for anchor, domain in (("a", "cls"), ("b", "cls"), ("c", "o'brien"), ("d", "keep")):
        storage.store_form({"anchor": anchor, "domain": domain, "terms": []})
    assert storage.conn.execute("DELETE FROM echoforms WHERE domain = 'cls'").rowcount == 2
    assert storage._conn.execute("delete from echoforms where domain = ?",
                                 ("o'brien",)).rowcount == 1
    storage.conn.commit()
    assert [r["anchor"] for r in storage.list_forms()] == ["d"]
    assert storage.conn.execute("DELETE FROM echoforms WHERE domain = 'none';").fetchall() == [(0,)]


def test_module_level_form_functions(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    compat.store_form("m1", {"terms": [{"intensity": 1}], "x": 1})
    time.sleep(0.002)
    compat.store_form("m2", {"x": 2})
    assert compat.fetch_form("m1") == {"terms": [{"intensity": 1}], "x": 1}
    assert compat.fetch_form("absent") is None
    assert compat.fetch_recent(1) == [{"x": 2}]
    assert compat.fetch_recent(10) == [{"x": 2}, {"terms": [{"intensity": 1}], "x": 1}]
    assert compat.delete_older_than(3600) == 0
    time.sleep(0.02)
    assert compat.delete_older_than(0.01) == 2
    assert compat.fetch_recent(10) == []


def test_bad_forms_raise_and_store_nothing(storage):
    with pytest.raises(TypeError):
        storage.store_form(42)
    with pytest.raises(ValueError):
        storage.store_form({"domain": "no anchor"})
    with pytest.raises(ValueError):
        storage.store_form({"anchor": "n", "phase": float("nan")})
    assert storage.get_form_count() == 0
