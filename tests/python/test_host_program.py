"""A host-shaped program, end to end, written as a Kimera program would use its storage module.

It opens the storage through compat with dual-write on, stores geoids, scars
and forms, queries by entropy, verifies dual-write, reads the stats with the
per-type legacy counts, and gets back exactly what it stored, legacy keys
included.
"""

import datetime

import pytest

from conftest import HostEchoForm, HostIdentity

UTC = datetime.timezone.utc


def test_host_program_end_to_end(monkeypatch, tmp_path, host_modules):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KIMERA_ID_DUAL_WRITE", "1")
    from kimera_entropy.compat import get_storage, close_storage  # as kimera.storage exports them

    storage = get_storage()
    assert type(storage).__name__ == "DualWriteStorage" and storage.dual_write_enabled

    created = datetime.datetime(2026, 11, 20, 9, 30, 0, 123456, tzinfo=UTC)
    geoids = [HostIdentity("geoid_%d" % i, raw="text %d" % i, echo="echo %d" % i,
                           lang_axis="en", tags=["t%d" % j for j in range(i + 1)],
                           meta={"terms": [{"term": "w%d" % j, "role": "r", "intensity": j + 1}
                                           for j in range(i)]},
                           created_at=created, content="content %d" % i,
                           metadata={"legacy": True, "i": i})
              for i in range(6)]
    scars = [HostIdentity("scar_%d" % i, identity_type="scar", weight=1.5,
                          related_ids=["geoid_%d" % j for j in range(i + 2)],
                          meta={"relationship_type": "tension" if i % 2 else "support"},
                          created_at=created, content="scar content %d" % i,
                          metadata={"why": "legacy"})
             for i in range(4)]
    for ident in geoids + scars:
        storage.store_identity(ident)
    storage.store_geoid("a legacy geoid from text")

    # Exactly what was stored comes back, legacy keys included.
    for ident in geoids + scars:
        got = storage.fetch_identity(ident.id)
        assert isinstance(got, HostIdentity)
        want = ident.to_dict()
        have = got.to_dict()
        assert have == want, ident.id
        assert got.content == ident.content and got.metadata == ident.metadata

    # Queries by entropy: highest first, within the bounds.
    top = storage.find_identities_by_entropy(min_entropy=1.0, limit=5)
    scores = {r["id"]: r["entropy_score"] for r in storage.list_identities(limit=20)}
    entropies = [scores[t.id] for t in top]
    assert entropies == sorted(entropies, reverse=True) and all(h >= 1.0 for h in entropies)
    assert top[0].id == "scar_3"  # log2(5) * 1.5
    assert storage.get_identity_count() == 11
    assert storage.get_identity_count("scar") == 4
    # Same updated_at: ties by id.
    assert [s.id for s in storage.get_scars_by_type("tension")] == ["scar_1", "scar_3"]
    assert {s.id for s in storage.get_related_scars("geoid_3")} == {"scar_2", "scar_3"}

    # Forms, and the CLS layer's one SQL statement.
    form = HostEchoForm("cls:anchor", domain="cls", phase=0.3,
                        terms=[{"term": "x", "intensity": 2.0}])
    storage.store_form(form)
    assert storage.fetch_form("cls:anchor").flatten() == form.flatten()
    storage.conn.execute("DELETE FROM echoforms WHERE domain = 'cls'")
    assert storage.fetch_form("cls:anchor") is None

    # Dual-write: every identity consistent, stats with per-type legacy counts.
    for ident in geoids + scars:
        report = storage.verify_dual_write_consistency(ident.id)
        assert report["consistent"] is True, report
    stats = storage.get_dual_write_stats()
    assert stats["legacy_geoids_count"] == 7
    assert stats["legacy_scars_count"] == 4
    assert stats["total_legacy_count"] == 11
    assert stats["new_identities_count"] == 11
    assert stats["successful_operations"] == 11 and stats["success_rate"] == pytest.approx(100.0)

    close_storage()
    # A new process-wide storage on the same file sees everything again.
    storage = get_storage()
    assert storage.fetch_identity("geoid_5").to_dict() == geoids[5].to_dict()
    close_storage()
