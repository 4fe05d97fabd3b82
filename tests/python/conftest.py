"""Fixtures of the kimera_entropy tests: the real libkimera.so, stores on disk in tmp_path.

Run: meson test -C build --suite python, or by hand
  KIMERA_LIBRARY=build/libkimera.so PYTHONPATH=python /usr/bin/python3 -m pytest -q tests/python
"""

import datetime
import os
import sys
import types

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(os.path.dirname(_HERE))
if os.path.join(_REPO, "python") not in sys.path:
    sys.path.insert(0, os.path.join(_REPO, "python"))

import kimera_entropy  # noqa: E402
from kimera_entropy import _native, compat  # noqa: E402

REFERENCE_SAMPLE = os.path.join(_REPO, "tests", "data", "reference_sample.jsonl")

_ENV = ("KIMERA_ID_DUAL_WRITE", "KIMERA_METRICS_ENABLED", "KIMERA_METRICS_DETAILED",
        "KIMERA_METRICS_PORT", "KIMERA_CONFIG")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Every test starts without KIMERA_* overrides and without a process-wide storage."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    compat.close_storage()
    compat.reset_storage_metrics()
    yield
    compat.close_storage()


class HostIdentity:
    """The host's Identity as the reference shapes it: 11 fields, optional legacy content/metadata."""

    FIELDS = ("id", "identity_type", "raw", "echo", "lang_axis", "tags", "weight",
              "related_ids", "meta", "created_at", "updated_at")

    def __init__(self, id, identity_type="geoid", raw="", echo="", lang_axis="", tags=None,
                 weight=1.0, related_ids=None, meta=None, created_at=None, updated_at=None,
                 content=None, metadata=None):
        now = datetime.datetime.now(datetime.timezone.utc)
        self.id = id
        self.identity_type = identity_type
        self.raw = raw
        self.echo = echo
        self.lang_axis = lang_axis
        self.tags = tags or []
        self.weight = weight
        self.related_ids = related_ids or []
        self.meta = meta or {}
        self.created_at = created_at or now
        self.updated_at = updated_at or self.created_at
        self.content = content
        self.metadata = metadata

    def to_dict(self):
        d = {f: getattr(self, f) for f in self.FIELDS}
        d["created_at"] = self.created_at.isoformat()
        d["updated_at"] = self.updated_at.isoformat()
        if self.content is not None:
            d["content"] = self.content
        if self.metadata is not None:
            d["metadata"] = self.metadata
        return d

    @classmethod
    def from_dict(cls, d):
        kwargs = {f: d[f] for f in cls.FIELDS if f in d}
        kwargs["created_at"] = datetime.datetime.fromisoformat(d["created_at"])
        kwargs["updated_at"] = datetime.datetime.fromisoformat(d["updated_at"])
        return cls(content=d.get("content"), metadata=d.get("metadata"), **kwargs)


class HostEchoForm:
    """The host's EchoForm: flatten() to a dict, reinflate(blob) back."""

    def __init__(self, anchor, domain="echo", phase=0.5, terms=None):
        self.anchor = anchor
        self.domain = domain
        self.phase = phase
        self.terms = terms if terms is not None else [{"term": "a", "intensity": 1.0}]

    def flatten(self):
        return {"anchor": self.anchor, "domain": self.domain, "phase": self.phase,
                "terms": self.terms}

    @classmethod
    def reinflate(cls, blob):
        return cls(blob["anchor"], blob.get("domain"), blob.get("phase"), blob.get("terms"))


@pytest.fixture
def host_modules(monkeypatch):
    """Installs kimera.identity.Identity and kimera.echoform.EchoForm as a host would have them."""
    pkg = types.ModuleType("kimera")
    pkg.__path__ = []
    ident = types.ModuleType("kimera.identity")
    ident.Identity = HostIdentity
    echo = types.ModuleType("kimera.echoform")
    echo.EchoForm = HostEchoForm
    monkeypatch.setitem(sys.modules, "kimera", pkg)
    monkeypatch.setitem(sys.modules, "kimera.identity", ident)
    monkeypatch.setitem(sys.modules, "kimera.echoform", echo)
    return types.SimpleNamespace(Identity=HostIdentity, EchoForm=HostEchoForm)


def geoid(id, terms=None, tags=None, **fields):
    meta = fields.pop("meta", {})
    if terms is not None:
        meta = dict(meta, terms=[{"term": "t%d" % i, "role": "r", "intensity": x}
                                 for i, x in enumerate(terms)])
    return dict({"id": id, "identity_type": "geoid", "raw": "raw " + id, "echo": "echo " + id,
                 "lang_axis": "en", "tags": tags or [], "weight": 1.0, "related_ids": [],
                 "meta": meta}, **fields)


def scar(id, related, weight=1.0, relationship_type=None, **fields):
    meta = fields.pop("meta", {})
    if relationship_type is not None:
        meta = dict(meta, relationship_type=relationship_type)
    return dict({"id": id, "identity_type": "scar", "raw": "", "echo": "", "lang_axis": "",
                 "tags": [], "weight": weight, "related_ids": related, "meta": meta}, **fields)


@pytest.fixture
def store(tmp_path):
    with kimera_entropy.Store(str(tmp_path / "db")) as s:
        yield s


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "kimera_lattice.db")
