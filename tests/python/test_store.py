"""kimera_entropy.Store against the real library: every C function, errors, threads."""

import datetime
import json
import math
import threading

import pytest

import kimera_entropy
from kimera_entropy import errors
from conftest import geoid, scar


def test_library_reports_its_versions():
    assert kimera_entropy.abi_version() == kimera_entropy.ABI_VERSION == 1
    assert kimera_entropy.library_version().count(".") == 2
    assert kimera_entropy.status_name(0) == "ok"
    assert kimera_entropy.status_name(1) == "not_found"
    assert kimera_entropy.status_name(100) == "internal"


def test_store_fetch_round_trips_every_field(store):
    ident = geoid("g1", terms=[1.0, 3.0], tags=["x", "y"], created_at="2026-11-01T10:00:00+00:00")
    store.store(ident)
    got = store.fetch("g1")
    for key in ("id", "identity_type", "raw", "echo", "lang_axis", "tags", "weight",
                "related_ids", "meta"):
        assert got[key] == ident[key], key
    assert got["created_at"] == "2026-11-01T10:00:00+00:00"
    assert got["entropy"] == pytest.approx(-(0.25 * math.log2(0.25) + 0.75 * math.log2(0.75)))
    assert got["effective_tau"] == pytest.approx(1209600.0 * (1 + 0.1 * got["entropy"]))


def test_store_accepts_json_text_and_to_dict_objects(store):
    store.store(json.dumps(geoid("text")))
    store.store(json.dumps(geoid("bytes")).encode("utf-8"))

    class WithToDict:
        def to_dict(self):
            return geoid("obj")

    store.store(WithToDict())
    assert [d["id"] for d in store.fetch_many(["text", "bytes", "obj", "absent"])] == [
        "text", "bytes", "obj"]


def test_get_contains_and_not_found(store):
    assert store.get("nope") is None
    assert store.get("nope", 7) == 7
    assert "nope" not in store
    with pytest.raises(kimera_entropy.NotFound) as e:
        store.fetch("nope")
    assert e.value.code == errors.NOT_FOUND and "nope" in e.value.message
    assert isinstance(e.value, LookupError)
    with pytest.raises(kimera_entropy.NotFound):
        store.remove("nope")


def test_remove_count_and_list(store):
    store.store(geoid("g1"))
    store.store(geoid("g2", lang_axis="fr"))
    store.store(scar("s1", ["g1", "g2"]))
    assert store.count() == len(store) == 3
    assert store.count("geoid") == 2 and store.count("scar") == 1
    assert [d["id"] for d in store.list(limit=10)] == ["s1", "g2", "g1"]
    assert [d["id"] for d in store.list(identity_type="geoid", lang_axis="fr")] == ["g2"]
    assert len(store.list(limit=1)) == 1
    store.remove("g1")
    assert store.count() == 2 and "g1" not in store


def test_find_by_entropy_orders_and_bounds(store):
    store.store_many([geoid("h0"), geoid("h1", terms=[1, 1]), geoid("h2", terms=[1, 1, 1, 1]),
                      geoid("h15", tags=["a", "b", "c"])])
    assert [d["id"] for d in store.find_by_entropy()] == ["h2", "h15", "h1", "h0"]
    assert [d["id"] for d in store.find_by_entropy(1.0, 1.9)] == ["h15", "h1"]
    assert [d["id"] for d in store.find_by_entropy(0.0, 0.0)] == ["h0"]
    assert len(store.find_by_entropy(limit=2)) == 2


def test_scan_pages_through_everything_in_id_order(store):
    ids = ["id%03d" % i for i in range(25)]
    assert store.store_many(geoid(i) for i in reversed(ids)) == 25
    page, cursor = store.scan_page(page_size=10)
    assert [d["id"] for d in page] == ids[:10] and cursor == "id009"
    assert [d["id"] for d in store.scan(page_size=7)] == ids
    assert [d["id"] for d in store.scan(start_after="id020", page_size=2)] == ids[21:]
    assert [d["id"] for d in store] == ids


def test_store_many_refuses_the_whole_batch_on_one_bad_element(store):
    with pytest.raises(kimera_entropy.InvalidArgument) as e:
        store.store_many([geoid("ok1"), geoid("bad", weight=-1.0), geoid("ok2")])
    assert "identities[1]" in e.value.message and "bad" in e.value.message
    assert e.value.stored == 0
    assert store.count() == 0


def test_store_many_refuses_a_repeated_id_and_more_than_the_limit(store):
    with pytest.raises(kimera_entropy.InvalidArgument) as e:
        store.store_many([geoid("a"), geoid("b"), geoid("a", terms=[1, 2])])
    assert "identities[2]: id 'a' is identities[0] again" in e.value.message
    too_many = [geoid("id%05d" % i) for i in range(kimera_entropy.MAX_STORE_MANY + 1)]
    with pytest.raises(kimera_entropy.InvalidArgument) as e:
        store.store_many(too_many)
    assert "at most %d" % kimera_entropy.MAX_STORE_MANY in e.value.message
    assert store.count() == 0
    assert store.store_many(too_many[:kimera_entropy.MAX_STORE_MANY]) == 10000
    assert store.count() == 10000


@pytest.mark.parametrize("bad, words", [
    ("{not json", ["malformed"]),
    ('{"id": "x", "weight": "heavy"}', ["weight"]),
    ('{"id": "x", "tags": "a"}', ["tags"]),
    ('{"id": "x", "identity_type": "geoid", "created_at": "yesterday"}', ["created_at"]),
    ("[1, 2]", []),
])
def test_bad_json_raises_invalid_argument_and_stores_nothing(store, bad, words):
    with pytest.raises(kimera_entropy.InvalidArgument) as e:
        store.store(bad)
    assert isinstance(e.value, ValueError)
    for w in words:
        assert w in e.value.message
    assert store.count() == 0


def test_bad_python_values_raise_before_the_library(store):
    with pytest.raises(TypeError, match="identity"):
        store.store(42)
    with pytest.raises(kimera_entropy.InvalidArgument, match="NaN|nan|Out of range"):
        store.store(geoid("n", weight=float("nan")))
    with pytest.raises(TypeError, match="object"):
        store.store(geoid("o", meta={"x": object()}))
    with pytest.raises(TypeError, match="id must be a string"):
        store.fetch(5)
    with pytest.raises(kimera_entropy.InvalidArgument, match="NUL"):
        store.fetch("a\0b")
    with pytest.raises(TypeError):
        store.list(limit="10")
    assert store.count() == 0


def test_decay_is_applied_once_and_never_compounds(store):
    created = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)
    store.store(geoid("d", terms=[1.0, 1.0], weight=2.0, created_at=created.isoformat(),
                      updated_at=created.isoformat()))
    now = created + datetime.timedelta(days=10)
    expected = 2.0 * math.exp(-10 * 86400 / (1209600.0 * 1.1))
    store.decay("d", now=now)
    assert store.fetch("d")["weight"] == pytest.approx(expected, rel=1e-12)
    store.decay("d", now=now.timestamp())
    store.decay_all(now=now)
    assert store.fetch("d")["weight"] == pytest.approx(expected, rel=1e-12)
    later = now + datetime.timedelta(days=5)
    assert store.decay_all(now=later) == 1
    assert store.fetch("d")["weight"] == pytest.approx(
        2.0 * math.exp(-15 * 86400 / (1209600.0 * 1.1)), rel=1e-12)


def test_sync_index_check_and_metrics_text(store):
    store.store(geoid("m", terms=[1, 2]))
    store.sync()
    report = store.index_check()
    assert report["ok"] and report["records"] == 1 and report["index_entries"] == 1
    assert store.index_check(repair=True)["problem_count"] == 0
    text = store.metrics_text()
    assert "kimera_identity_entropy" in text and "kimera_storage_operations_duration_seconds" in text


def test_model_matches_store_and_rejects_bad_input(store):
    ident = geoid("m", tags=["a", "b", "c", "d"])
    assert kimera_entropy.model(ident) == pytest.approx((2.0, 1209600.0 * 1.2))
    assert kimera_entropy.model(ident, base_tau_seconds=100.0, k=0.0) == (2.0, 100.0)
    assert store.model(ident) == pytest.approx((2.0, 1209600.0 * 1.2))
    with pytest.raises(kimera_entropy.InvalidArgument):
        kimera_entropy.model("{oops")


def test_dual_write_off_refuses_admin_calls(store):
    for call in (lambda: store.dual_write_check("x"), store.dual_write_stats,
                 store.dual_write_verify):
        with pytest.raises(kimera_entropy.InvalidArgument, match="not enabled"):
            call()


def test_dual_write_on_through_the_config(tmp_path):
    config = {"dual_write": {"enabled": True, "secondary": "legacy"}}
    with kimera_entropy.Store(str(tmp_path / "dw"), config=config) as s:
        s.store(geoid("g"))
        s.store(scar("s", ["g", "h"]))
        assert s.dual_write_check("g")["result"] == "consistent"
        stats = s.dual_write_stats(recent=5)
        assert stats["enabled"] is True
        assert (stats["secondary_geoids"], stats["secondary_scars"]) == (1, 1)
        assert len(stats["recent"]) == 2
        report = s.dual_write_verify()
        assert report["clean"] and report["visited"] == 2
        with pytest.raises(kimera_entropy.InvalidArgument):
            s.dual_write_cleanup()


def test_config_text_and_bad_config_name_the_key(tmp_path):
    text = "[entropy]\nk = 0.5\n"
    with kimera_entropy.Store(str(tmp_path / "t"), config=text) as s:
        assert s.k == 0.5
        assert s.fetch_json("x") is None
    with pytest.raises(kimera_entropy.InvalidArgument, match="nonsense"):
        kimera_entropy.Store(str(tmp_path / "u"), config={"storage": {"nonsense": 1}})


def test_second_open_of_one_folder_is_busy(tmp_path):
    with kimera_entropy.Store(str(tmp_path / "b")):
        with pytest.raises(kimera_entropy.KimeraError) as e:
            kimera_entropy.Store(str(tmp_path / "b"))
        assert e.value.code in (errors.BUSY, errors.IO_ERROR)


def test_close_is_idempotent_and_later_calls_raise(tmp_path):
    s = kimera_entropy.Store(str(tmp_path / "c"))
    s.close()
    s.close()
    assert s.closed
    with pytest.raises(kimera_entropy.StoreClosed):
        s.count()


def test_two_threads_store_through_one_handle(store):
    def work(prefix):
        for i in range(300):
            store.store(geoid("%s%04d" % (prefix, i), terms=[1, i + 1]))
            assert store.fetch("%s%04d" % (prefix, i))["id"] == "%s%04d" % (prefix, i)

    threads = [threading.Thread(target=work, args=(p,)) for p in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == 600
    assert store.index_check()["ok"]


def _rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_returned_strings_are_freed(store):
    store.store(geoid("leak", terms=[1.0] * 20, raw="x" * 2000))
    for _ in range(3000):  # warm caches and the allocator
        store.fetch("leak")
        store.get("absent")
    before = _rss_kib()
    for _ in range(30000):
        store.fetch("leak")            # ~3 KB of JSON each: 90 MB if never freed
        store.get("absent")            # the error message of a NotFound
    assert _rss_kib() - before < 20 * 1024


def test_close_waits_for_calls_running_on_other_threads(tmp_path):
    store = kimera_entropy.Store(str(tmp_path / "db"))
    store.store(geoid("g"))
    started, outcomes = threading.Event(), []

    def reader():
        started.set()
        try:
            while True:
                assert store.fetch("g")["id"] == "g"
        except errors.StoreClosed as e:
            outcomes.append(e)
        except BaseException as e:  # noqa: BLE001 - reported below
            outcomes.append(e)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    started.wait()
    store.close()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)
    assert len(outcomes) == 4 and all(isinstance(e, errors.StoreClosed) for e in outcomes), outcomes
    with pytest.raises(errors.StoreClosed):
        store.count()
