"""compat.DualWriteStorage and the module-level storage, on and off through KIMERA_ID_DUAL_WRITE."""

import pytest

from kimera_entropy import compat
from conftest import HostIdentity, geoid, scar

STATS_KEYS = {"dual_write_enabled", "total_operations", "successful_operations",
              "failed_operations", "success_rate", "new_identities_count", "legacy_geoids_count",
              "legacy_scars_count", "total_legacy_count", "recent_operations"}
RECENT_KEYS = {"timestamp", "identity_id", "operation", "status", "details"}
VERIFY_KEYS = {"identity_id", "identity_type", "consistent", "discrepancies", "new_data",
               "legacy_data"}


@pytest.fixture
def dual_on(monkeypatch, db_path):
    monkeypatch.setenv("KIMERA_ID_DUAL_WRITE", "1")
    s = compat.DualWriteStorage(db_path)
    yield s
    s.close()


@pytest.fixture
def dual_off(db_path):
    s = compat.DualWriteStorage(db_path)
    yield s
    s.close()


def test_off_every_admin_call_says_so(dual_off):
    assert dual_off.dual_write_enabled is False
    assert dual_off.verify_dual_write_consistency("x") == {"error": "Dual-write not enabled"}
    assert dual_off.get_dual_write_stats() == {"error": "Dual-write not enabled"}
    dual_off.store_identity(geoid("g"))
    assert dual_off.fetch_identity("g").id == "g"


def test_off_cleanup_needs_a_recorded_clean_sweep(dual_off):
    import kimera_entropy
    with pytest.raises(kimera_entropy.InvalidArgument, match="cleanup refused"):
        dual_off.cleanup_legacy_tables()


def test_cleanup_after_a_clean_sweep_drops_legacy_tables(monkeypatch, db_path):
    monkeypatch.setenv("KIMERA_ID_DUAL_WRITE", "1")
    on = compat.DualWriteStorage(db_path)
    on.store_identity(geoid("g"))
    assert on._native().dual_write_verify()["clean"] is True
    on.close()
    monkeypatch.setenv("KIMERA_ID_DUAL_WRITE", "0")
    off = compat.DualWriteStorage(db_path)
    try:
        assert off.cleanup_legacy_tables() is None
        assert off.fetch_identity("g").id == "g"
    finally:
        off.close()


def test_on_cleanup_raises_runtime_error(dual_on):
    with pytest.raises(RuntimeError):
        dual_on.cleanup_legacy_tables()


def test_on_stats_have_the_reference_keys(dual_on):
    empty = dual_on.get_dual_write_stats()
    assert set(empty) == STATS_KEYS
    assert empty["total_operations"] == 0 and empty["success_rate"] == 0
    assert empty["recent_operations"] == []
    for i in range(3):
        dual_on.store_identity(geoid("g%d" % i))
    for i in range(12):
        dual_on.store_identity(scar("s%02d" % i, ["g0", "g1"]))
    stats = dual_on.get_dual_write_stats()
    assert set(stats) == STATS_KEYS
    assert stats["dual_write_enabled"] is True
    assert stats["total_operations"] == 15
    assert stats["successful_operations"] == 15 and stats["failed_operations"] == 0
    assert stats["success_rate"] == pytest.approx(100.0)
    assert stats["new_identities_count"] == 15
    assert stats["legacy_geoids_count"] == 3
    assert stats["legacy_scars_count"] == 12
    assert stats["total_legacy_count"] == 15
    assert len(stats["recent_operations"]) == 10
    for op in stats["recent_operations"]:
        assert set(op) == RECENT_KEYS
        assert isinstance(op["timestamp"], str) and op["identity_id"].startswith("s")
    assert stats["recent_operations"][0]["identity_id"] == "s11"


def test_on_verify_consistent_and_errors(dual_on, host_modules):
    dual_on.store_identity(HostIdentity("g", raw="r", tags=["a"], content="legacy c",
                                        metadata={"m": 1}))
    dual_on.store_identity(scar("s", ["g", "h"], weight=2.0))
    for id, type_ in (("g", "geoid"), ("s", "scar")):
        r = dual_on.verify_dual_write_consistency(id)
        assert set(r) == VERIFY_KEYS
        assert r["identity_id"] == id and r["identity_type"] == type_
        assert r["consistent"] is True and r["discrepancies"] == []
        assert r["new_data"]["id"] == id and "entropy" not in r["new_data"]
        assert r["legacy_data"]["weight"] == r["new_data"]["weight"]
    assert "raw" in dual_on.verify_dual_write_consistency("g")["legacy_data"]
    assert "related_ids" in dual_on.verify_dual_write_consistency("s")["legacy_data"]
    assert dual_on.verify_dual_write_consistency("absent") == {
        "error": "Identity not found in new storage"}


def test_identity_stored_before_dual_write_is_missing_in_legacy(monkeypatch, db_path):
    plain = compat.DualWriteStorage(db_path)
    plain.store_identity(geoid("early"))
    plain.close()
    monkeypatch.setenv("KIMERA_ID_DUAL_WRITE", "1")
    on = compat.DualWriteStorage(db_path)
    try:
        assert on.dual_write_enabled
        assert on.verify_dual_write_consistency("early") == {
            "error": "Identity not found in legacy storage"}
    finally:
        on.close()


def test_dual_write_state_is_fixed_while_a_path_is_open(monkeypatch, dual_off, db_path):
    monkeypatch.setenv("KIMERA_ID_DUAL_WRITE", "1")
    with pytest.warns(RuntimeWarning, match="dual-write off"):
        second = compat.DualWriteStorage(db_path)
    try:
        assert second.dual_write_enabled is False
    finally:
        second.close()


def test_get_storage_is_a_singleton_typed_by_the_environment(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    s = compat.get_storage()
    assert type(s) is compat.LatticeStorage
    assert compat.get_storage("ignored.db") is s
    assert s.db_path == "kimera_lattice.db"
    compat.close_storage()
    compat.close_storage()
    monkeypatch.setenv("KIMERA_ID_DUAL_WRITE", "1")
    d = compat.get_storage(str(tmp_path / "dw.db"))
    assert type(d) is compat.DualWriteStorage and d.dual_write_enabled
    assert d is not s
    compat.close_storage()


def test_get_dual_write_storage_is_new_each_call(monkeypatch, db_path):
    monkeypatch.setenv("KIMERA_ID_DUAL_WRITE", "1")
    a = compat.get_dual_write_storage(db_path)
    b = compat.get_dual_write_storage(db_path)
    try:
        assert a is not b
        assert isinstance(a, compat.DualWriteStorage) and a.dual_write_enabled
        a.store_identity(geoid("x"))
        assert b.get_dual_write_stats()["legacy_geoids_count"] == 1
    finally:
        a.close()
        b.close()


def test_invalid_environment_value_is_refused(monkeypatch, db_path):
    monkeypatch.setenv("KIMERA_ID_DUAL_WRITE", "maybe")
    with pytest.raises(ValueError, match="KIMERA_ID_DUAL_WRITE"):
        compat.LatticeStorage(db_path)


def test_metrics_environment_reaches_the_store(monkeypatch, db_path):
    monkeypatch.setenv("KIMERA_METRICS_ENABLED", "0")
    s = compat.LatticeStorage(db_path)
    try:
        s.store_identity(geoid("g"))
        assert "kimera_identity_operations_total{" not in s._native().metrics_text()
    finally:
        s.close()


def test_reopen_for_a_new_base_tau_keeps_dual_write(dual_on, monkeypatch):
    dual_on.store_identity(geoid("g"))
    monkeypatch.setenv("KIMERA_ID_DUAL_WRITE", "0")
    dual_on.apply_identity_decay(base_tau_days=7.0)
    assert dual_on._shared.dual_write and dual_on.dual_write_enabled
    dual_on.store_identity(geoid("h"))
    assert dual_on.get_dual_write_stats()["legacy_geoids_count"] == 2
