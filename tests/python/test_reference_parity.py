"""Entropy and tau through the C ABI equal the reference's (tests/data/reference_sample.jsonl)."""

import datetime
import json
import math

import pytest

import kimera_entropy
from kimera_entropy import compat
from conftest import REFERENCE_SAMPLE, geoid

with open(REFERENCE_SAMPLE, encoding="utf-8") as _f:
    SAMPLE = [json.loads(line) for line in _f if line.strip()]


def reference_entropy(d):
    """The reference's rule, in Python as the reference writes it."""
    if d.get("identity_type") == "scar":
        n = len(d.get("related_ids") or [])
        return math.log2(n) * d.get("weight", 1.0) if n >= 2 else 0.0
    terms = (d.get("meta") or {}).get("terms")
    if isinstance(terms, list):
        xs = [t["intensity"] for t in terms if isinstance(t, dict)
              and isinstance(t.get("intensity"), (int, float)) and t["intensity"] > 0]
        total = sum(xs)
        if not xs or total <= 0:
            return 0.0
        return -sum((x / total) * math.log2(x / total) for x in xs)
    tags = d.get("tags") or []
    return math.log2(len(tags)) if len(tags) > 1 else 0.0


def test_sample_has_sixty_identities():
    assert len(SAMPLE) == 60
    assert all(set(row["expected"]) >= {"entropy", "effective_tau"} for row in SAMPLE)


@pytest.mark.parametrize("row", SAMPLE, ids=[r["identity"]["id"] for r in SAMPLE])
def test_model_equals_reference(row):
    h, tau = kimera_entropy.model(row["identity"])
    assert h == pytest.approx(row["expected"]["entropy"], rel=1e-12, abs=1e-12)
    assert tau == pytest.approx(row["expected"]["effective_tau"], rel=1e-12)
    assert reference_entropy(row["identity"]) == pytest.approx(row["expected"]["entropy"],
                                                               rel=1e-12, abs=1e-12)


def test_stored_sample_reports_reference_values(store):
    assert store.store_many(row["identity"] for row in SAMPLE) == 60
    by_id = {row["identity"]["id"]: row["expected"] for row in SAMPLE}
    seen = 0
    for d in store.scan(page_size=16):
        assert d["entropy"] == pytest.approx(by_id[d["id"]]["entropy"], rel=1e-12, abs=1e-12)
        assert d["effective_tau"] == pytest.approx(by_id[d["id"]]["effective_tau"], rel=1e-12)
        seen += 1
    assert seen == 60


def test_decay_factor_at_reference_now(store):
    rows = [r for r in SAMPLE if r["identity"]["weight"] > 0]
    store.store_many(r["identity"] for r in rows)
    for r in rows:
        now = datetime.datetime.fromisoformat(r["expected"]["now"])
        store.decay(r["identity"]["id"], now=now)
        got = store.fetch(r["identity"]["id"])["weight"]
        assert got == pytest.approx(r["identity"]["weight"] * r["expected"]["decay_factor_at_now"],
                                    rel=1e-9), r["identity"]["id"]


def test_compat_entropy_scores_equal_reference(tmp_path):
    storage = compat.LatticeStorage(str(tmp_path / "p.db"))
    try:
        for row in SAMPLE:
            storage.store_identity(row["identity"])
        rows = storage.list_identities(limit=100)
        by_id = {row["identity"]["id"]: row["expected"]["entropy"] for row in SAMPLE}
        assert len(rows) == 60
        for r in rows:
            assert r["entropy_score"] == pytest.approx(by_id[r["id"]], rel=1e-12, abs=1e-12)
    finally:
        storage.close()


# Intensities and the entropy the reference computes for them: True counts
# as 1, False and non-numbers are dropped (numbers worked by hand, e.g.
# [1, 2]: -(1/3 log2 1/3 + 2/3 log2 2/3)).
BOOLEAN_CASES = [
    ([True, True], 1.0),
    ([True, False, 2.0], 0.9182958340544896),
    ([False, False], 0.0),
    ([True, 3, 0.5, "7", None, [1], {"x": 1}, -1, 0], 1.224394445405986),
    ([False, 1.0], 0.0),
    ([True], 0.0),
]


@pytest.mark.parametrize("intensities,expected", BOOLEAN_CASES)
def test_boolean_intensities_count_as_python_counts_them(store, intensities, expected):
    ident = geoid("b", terms=intensities)
    assert reference_entropy(ident) == pytest.approx(expected, abs=1e-12)
    h, tau = kimera_entropy.model(ident)
    assert h == pytest.approx(expected, abs=1e-12)
    assert tau == pytest.approx(1209600.0 * (1 + 0.1 * expected), rel=1e-12)
    store.store(ident)
    got = store.fetch("b")
    assert got["entropy"] == pytest.approx(expected, abs=1e-12)
    assert got["meta"]["terms"] == ident["meta"]["terms"]


def test_true_counts_one_false_dropped():
    assert kimera_entropy.model(geoid("x", terms=[True, 1.0]))[0] == pytest.approx(1.0)
    assert kimera_entropy.model(geoid("x", terms=[False, 1.0]))[0] == 0.0
    assert kimera_entropy.model(geoid("x", terms=[True, 1.0, 2.0]))[0] == pytest.approx(1.5)
