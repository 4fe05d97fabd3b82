"""compat.LatticeStorage's identity methods: the reference's signatures and return shapes."""

import datetime
import inspect
import json
import math
import threading
import time

import pytest

import kimera_entropy
from kimera_entropy import compat
from kimera_entropy._identity import Identity
from conftest import HostIdentity, geoid, scar

UTC = datetime.timezone.utc


def host_geoid(id, **kw):
    return HostIdentity(id, identity_type="geoid", raw="raw " + id, echo="echo " + id,
                        lang_axis="en", content="legacy content of " + id,
                        metadata={"source": "legacy", "n": 1}, **kw)


def without_updated_at(d):
    return {k: v for k, v in d.items() if k != "updated_at"}


@pytest.fixture
def storage(db_path):
    s = compat.LatticeStorage(db_path)
    yield s
    s.close()


def test_public_surface_and_star_import():
    names = {}
    exec("from kimera_entropy.compat import *", names)
    for name in ("LatticeStorage", "DualWriteStorage", "get_storage", "close_storage",
                 "get_dual_write_storage", "storage_timer", "get_storage_metrics",
                 "reset_storage_metrics", "store_form", "fetch_form", "fetch_recent",
                 "delete_older_than"):
        assert name in names, name
    sig = inspect.signature
    assert str(sig(compat.LatticeStorage)) == "(db_path='kimera_lattice.db')"
    assert str(sig(compat.LatticeStorage.list_identities)) == (
        "(self, limit=10, identity_type=None, lang_axis=None)")
    assert str(sig(compat.LatticeStorage.find_identities_by_entropy)) == (
        "(self, min_entropy=0.0, max_entropy=inf, limit=10)")
    assert str(sig(compat.LatticeStorage.apply_identity_decay)) == "(self, base_tau_days=14.0)"
    assert str(sig(compat.LatticeStorage.search_identities)) == "(self, query, limit=10)"
    assert str(sig(compat.LatticeStorage.list_forms)) == "(self, limit=10, domain=None)"
    assert str(sig(compat.LatticeStorage.prune_old_forms)) == (
        "(self, older_than_seconds=None, older_than_days=None)")
    assert str(sig(compat.LatticeStorage.apply_time_decay)) == "(self, tau_days=14.0)"
    assert str(sig(compat.get_storage)) == "(db_path='kimera_lattice.db')"


def test_host_identity_round_trips_with_legacy_keys(storage, host_modules):
    original = host_geoid("g1", meta={"terms": [{"term": "a", "intensity": 2.0}]})
    assert storage.store_identity(original) is None
    for fetch in (storage.fetch_identity, storage.get_identity, storage.fetch_geoid):
        got = fetch("g1")
        assert isinstance(got, HostIdentity)
        assert without_updated_at(got.to_dict()) == without_updated_at(original.to_dict())
        assert got.updated_at >= original.created_at
        assert got.content == "legacy content of g1"
        assert got.metadata == {"source": "legacy", "n": 1}


def test_fetch_absent_is_none(storage):
    assert storage.fetch_identity("nope") is None
    assert storage.get_identity("nope") is None


def test_without_host_modules_our_identity_comes_back(storage):
    storage.store_identity(geoid("g", tags=["a", "b"], content="c", metadata={"m": 1}))
    got = storage.fetch_identity("g")
    assert isinstance(got, Identity)
    assert got.content == "c" and got.metadata == {"m": 1}
    assert got.entropy() == pytest.approx(1.0)
    assert got.tau == pytest.approx(1209600.0 * 1.1)
    d = got.to_dict()
    assert set(d) == {"id", "identity_type", "raw", "echo", "lang_axis", "tags", "weight",
                      "related_ids", "meta", "created_at", "updated_at", "content", "metadata"}
    assert Identity.from_dict(d).to_dict() == d


def test_restore_keeps_first_created_at_and_sets_updated_at(storage, host_modules):
    first = host_geoid("g", created_at=datetime.datetime(2026, 11, 1, tzinfo=UTC))
    storage.store_identity(first)
    row1 = storage.list_identities()[0]
    time.sleep(0.01)
    again = host_geoid("g", created_at=datetime.datetime(2026, 11, 20, tzinfo=UTC))
    again.raw = "changed"
    storage.store_identity(again)
    got = storage.fetch_identity("g")
    assert got.raw == "changed"
    assert got.created_at == datetime.datetime(2026, 11, 1, tzinfo=UTC)
    row2 = storage.list_identities()[0]
    assert row2["created_at"] == row1["created_at"]
    assert row2["updated_at"] >= row1["updated_at"]


def test_list_identities_rows(storage):
    storage.store_identity(geoid("g1", terms=[1, 1]))
    time.sleep(0.002)
    storage.store_identity(geoid("g2", lang_axis="fr"))
    time.sleep(0.002)
    storage.store_identity(scar("s1", ["g1", "g2", "g3", "g4"], weight=0.5))
    rows = storage.list_identities()
    assert [r["id"] for r in rows] == ["s1", "g2", "g1"]
    for r in rows:
        assert set(r) == {"id", "identity_type", "created_at", "updated_at", "lang_axis",
                          "entropy_score"}
        assert isinstance(r["created_at"], float) and isinstance(r["updated_at"], float)
        assert abs(r["updated_at"] - time.time()) < 60
    assert rows[0]["entropy_score"] == pytest.approx(1.0)
    assert rows[2]["entropy_score"] == pytest.approx(1.0)
    assert [r["id"] for r in storage.list_identities(identity_type="geoid")] == ["g2", "g1"]
    assert [r["id"] for r in storage.list_identities(lang_axis="fr")] == ["g2"]
    assert len(storage.list_identities(limit=1)) == 1


def test_counts(storage):
    storage.store_identity(geoid("g1"))
    storage.store_identity(scar("s1", ["a", "b"]))
    assert storage.get_identity_count() == 2
    assert storage.get_identity_count("geoid") == 1
    assert storage.get_identity_count(identity_type="scar") == 1


def test_find_identities_by_entropy(storage, host_modules):
    for i, terms in enumerate([[1], [1, 1], [1, 1, 1, 1], [1] * 8]):
        storage.store_identity(host_geoid("h%d" % i, meta={"terms": [
            {"term": "t%d" % j, "intensity": x} for j, x in enumerate(terms)]}))
    got = storage.find_identities_by_entropy()
    assert [g.id for g in got] == ["h3", "h2", "h1", "h0"]
    assert all(isinstance(g, HostIdentity) and g.content for g in got)
    assert [g.id for g in storage.find_identities_by_entropy(min_entropy=0.5, max_entropy=2.0)] \
        == ["h2", "h1"]
    assert [g.id for g in storage.find_identities_by_entropy(0.0, 0.0)] == ["h0"]
    assert len(storage.find_identities_by_entropy(limit=1)) == 1


def test_apply_identity_decay_does_not_compound(storage):
    created = datetime.datetime.now(UTC) - datetime.timedelta(days=7)
    storage.store_identity(geoid("d", weight=1.0, created_at=created.isoformat()))
    assert storage.apply_identity_decay() is None
    w1 = storage.fetch_identity("d").weight
    assert w1 == pytest.approx(math.exp(-7 * 86400 / 1209600.0), rel=1e-4)
    storage.apply_identity_decay()
    assert storage.fetch_identity("d").weight == pytest.approx(w1, rel=1e-4)


def test_apply_identity_decay_with_another_base_tau(storage):
    created = datetime.datetime.now(UTC) - datetime.timedelta(days=7)
    storage.store_identity(geoid("d", weight=1.0, created_at=created.isoformat()))
    storage.apply_identity_decay(base_tau_days=7.0)
    assert storage.fetch_identity("d").weight == pytest.approx(math.exp(-1.0), rel=1e-4)
    with pytest.raises(ValueError):
        storage.apply_identity_decay(base_tau_days=0)


def test_store_geoid_scar_and_echo_form_conveniences(storage, host_modules):
    storage.store_geoid("plain text geoid")
    storage.store_scar("plain text scar")
    storage.store_geoid(host_geoid("as-is"))
    storage.store_echo_form(host_modules.EchoForm("anchor-1", terms=[{"term": "x",
                                                                      "intensity": 2}]))
    assert storage.get_identity_count() == 4
    assert storage.get_identity_count("scar") == 1
    assert storage.fetch_identity("as-is").content == "legacy content of as-is"
    texts = {g.raw for g in storage.find_identities_by_entropy(limit=10)}
    assert "plain text geoid" in texts and "plain text scar" in texts
    form_geoid = [g for g in storage.search_identities("anchor-1")]
    assert len(form_geoid) == 1 and form_geoid[0].identity_type == "geoid"
    assert json.loads(form_geoid[0].raw)["anchor"] == "anchor-1"


def test_search_identities_like_semantics(storage):
    storage.store_identity(geoid("a", raw="the quick fox", echo=""))
    time.sleep(0.002)
    storage.store_identity(geoid("b", raw="", echo="a quick dog"))
    time.sleep(0.002)
    storage.store_identity(geoid("c", raw="slow", echo="slow"))
    assert [g.id for g in storage.search_identities("quick")] == ["b", "a"]
    assert [g.id for g in storage.search_identities("q_ick")] == ["b", "a"]
    assert [g.id for g in storage.search_identities("quick%fox")] == ["a"]
    assert [g.id for g in storage.search_identities("QUICK")] == []
    assert [g.id for g in storage.search_identities("quick", limit=1)] == ["b"]
    assert storage.search_identities(None, limit="bad") == []


def test_related_scars_and_scars_by_type(storage, host_modules):
    storage.store_identity(host_geoid("g1"))
    storage.store_identity(HostIdentity("s1", identity_type="scar", related_ids=["g1", "g2"],
                                        meta={"relationship_type": "contradiction"},
                                        content="scar content", metadata={"k": "v"}))
    time.sleep(0.002)
    storage.store_identity(HostIdentity("s2", identity_type="scar", related_ids=["g1"],
                                        meta={"relationship_type": "support"}))
    time.sleep(0.002)
    storage.store_identity(HostIdentity("s3", identity_type="scar", related_ids=["g3"],
                                        meta={"relationship_type": "contradiction"}))
    assert [s.id for s in storage.get_related_scars("g1")] == ["s2", "s1"]
    assert storage.get_related_scars("none") == []
    by_type = storage.get_scars_by_type("contradiction")
    assert [s.id for s in by_type] == ["s3", "s1"]
    assert by_type[1].content == "scar content" and by_type[1].metadata == {"k": "v"}


def test_bad_input_raises_and_stores_nothing(storage):
    with pytest.raises(TypeError):
        storage.store_identity(12)
    with pytest.raises(kimera_entropy.InvalidArgument) as e:
        storage.store_identity(geoid("w", weight=-1))
    assert "weight" in e.value.message and "w" in e.value.message
    with pytest.raises(ValueError):
        storage.store_identity("{broken json")
    with pytest.raises(ValueError):
        storage.store_identity(geoid("nan", weight=float("inf")))
    assert storage.get_identity_count() == 0


def test_close_is_idempotent(db_path):
    s = compat.LatticeStorage(db_path)
    s.close()
    s.close()
    with pytest.raises(kimera_entropy.KimeraError):
        s.fetch_identity("x")


def test_conn_runs_only_the_delete_by_domain(storage):
    for conn in (storage.conn, storage._conn):
        with pytest.raises(NotImplementedError, match="SELECT"):
            conn.execute("SELECT * FROM identities")
        with pytest.raises(NotImplementedError, match="DROP"):
            conn.execute("DROP TABLE echoforms")
        conn.commit()
        conn.close()
    with pytest.raises(ValueError):
        storage.conn.execute("DELETE FROM echoforms WHERE domain = ?")


def test_storage_timer_and_metrics(storage):
    compat.reset_storage_metrics()
    storage.store_identity(geoid("t"))
    storage.fetch_identity("t")
    storage.fetch_identity("u")
    with compat.storage_timer("custom_op"):
        time.sleep(0.001)
    m = compat.get_storage_metrics()
    assert m["store_identity_count"] == 1 and m["fetch_identity_count"] == 2
    assert m["custom_op"] >= 0.001 and m["custom_op_count"] == 1
    assert all(isinstance(m[k], float) for k in m if not k.endswith("_count"))
    compat.reset_storage_metrics()
    assert compat.get_storage_metrics() == {}


def test_two_threads_store_through_one_storage(storage, host_modules):
    errors = []

    def work(prefix):
        try:
            for i in range(200):
                storage.store_identity(host_geoid("%s%03d" % (prefix, i)))
                assert storage.fetch_identity("%s%03d" % (prefix, i)).id == "%s%03d" % (prefix, i)
        except Exception as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(p,)) for p in "xy"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert storage.get_identity_count() == 400


def test_new_base_tau_is_refused_while_the_path_is_shared(db_path):
    a = compat.LatticeStorage(db_path)
    b = compat.LatticeStorage(db_path)
    try:
        with pytest.raises(ValueError, match="open 2 times"):
            a.apply_identity_decay(base_tau_days=7.0)
        a.apply_identity_decay()  # the store's own base tau: fine
    finally:
        a.close()
        b.close()
