"""The objects compat hands back: the host's classes when it has them, else ours.

A fetched identity becomes `kimera.identity.Identity.from_dict(d)` when that
module imports (the host is the reference Kimera), else this package's own
Identity. A fetched form becomes `kimera.echoform.EchoForm.reinflate(blob)`
when that imports, else the blob dict itself. The host modules are looked up
at the first call, not at import, so that the host's kimera/storage.py may be
this package's compat without an import cycle.
"""

import datetime
import importlib
import math
import sys
import uuid

from . import _config
from .store import model

IDENTITY_FIELDS = ("id", "identity_type", "raw", "echo", "lang_axis", "tags", "weight",
                   "related_ids", "meta", "created_at", "updated_at")
# Keys the library adds on the way out; not part of the identity.
COMPUTED_KEYS = ("entropy", "effective_tau")

_failed_imports = set()


def _host_attr(module, cls, attr):
    mod = sys.modules.get(module)
    if mod is None and module not in _failed_imports:
        try:
            mod = importlib.import_module(module)
        except Exception:  # ImportError, or a host module failing at import
            _failed_imports.add(module)
            mod = None
    return getattr(getattr(mod, cls, None), attr, None) if mod is not None else None


def identity_from_dict():
    """The from_dict the fetched identities go through."""
    return _host_attr("kimera.identity", "Identity", "from_dict") or Identity.from_dict


def identity_maker():
    """What turns one identity dict fresh from the library (consumed) into the host's object.

    The host's from_dict (after strip_computed) when kimera.identity imports;
    else this package's Identity built without from_dict's copies.
    """
    host = _host_attr("kimera.identity", "Identity", "from_dict")
    if host is None:
        return Identity._from_library
    return lambda d: host(strip_computed(d))


def form_reinflate():
    """kimera.echoform.EchoForm.reinflate, or None (forms come back as dicts)."""
    return _host_attr("kimera.echoform", "EchoForm", "reinflate")


def strip_computed(d):
    """The identity dict without the library's entropy/effective_tau keys (d is consumed)."""
    d.pop("entropy", None)
    d.pop("effective_tau", None)
    return d


def parse_time(value):
    """An aware datetime from ISO 8601 text (no offset: UTC), a datetime, or epoch seconds."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        dt = value
    elif isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)
    else:
        dt = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=datetime.timezone.utc)


def epoch_seconds(iso_text):
    """Epoch seconds (float) of an ISO 8601 timestamp as the library writes it."""
    return parse_time(iso_text).timestamp()


def counted_intensity(x):
    """A term intensity as the reference counts it: int/float (True = 1) > 0, else None."""
    if isinstance(x, (int, float)) and x > 0 and math.isfinite(float(x)):
        return float(x)
    return None


_UNSET = object()
_fromisoformat = datetime.datetime.fromisoformat


class Identity:
    """The reference's identity model, for hosts without kimera.identity.

    The 11 fields of to_dict(), the legacy `content` and `metadata` (kept only
    when given), and any other top-level keys a stored identity carried
    (kept verbatim in `extra`). entropy() and tau come from the library's
    model with the default parameters (base tau 14 days, k 0.1).
    """

    def __init__(self, id=None, identity_type="geoid", raw="", echo="", lang_axis="",
                 tags=None, weight=1.0, related_ids=None, meta=None, created_at=None,
                 updated_at=None, content=_UNSET, metadata=_UNSET, **extra):
        self.id = id if id is not None else str(uuid.uuid4())
        self.identity_type = identity_type
        self.raw = raw
        self.echo = echo
        self.lang_axis = lang_axis
        self.tags = list(tags) if tags is not None else []
        self.weight = weight
        self.related_ids = list(related_ids) if related_ids is not None else []
        self.meta = dict(meta) if meta is not None else {}
        self.created_at = parse_time(created_at) or datetime.datetime.now(datetime.timezone.utc)
        self.updated_at = parse_time(updated_at) or self.created_at
        self._legacy = {}
        if content is not _UNSET:
            self._legacy["content"] = content
        if metadata is not _UNSET:
            self._legacy["metadata"] = metadata
        self.extra = extra

    @property
    def content(self):
        return self._legacy.get("content")

    @content.setter
    def content(self, value):
        self._legacy["content"] = value

    @property
    def metadata(self):
        return self._legacy.get("metadata")

    @metadata.setter
    def metadata(self, value):
        self._legacy["metadata"] = value

    @classmethod
    def create_scar(cls, related_ids, weight=1.0, relationship_type=None, content=None,
                    metadata=None, **fields):
        """A scar linking `related_ids`, in the shape of the reference's legacy constructor."""
        meta = dict(fields.pop("meta", {}) or {})
        if relationship_type is not None:
            meta["relationship_type"] = relationship_type
        return cls(identity_type="scar", related_ids=related_ids, weight=weight, meta=meta,
                   content=content, metadata=metadata if metadata is not None else {}, **fields)

    def to_dict(self):
        d = {
            "id": self.id,
            "identity_type": self.identity_type,
            "raw": self.raw,
            "echo": self.echo,
            "lang_axis": self.lang_axis,
            "tags": list(self.tags),
            "weight": self.weight,
            "related_ids": list(self.related_ids),
            "meta": self.meta,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }
        d.update(self._legacy)
        for key, value in self.extra.items():
            d.setdefault(key, value)
        return d

    @classmethod
    def from_dict(cls, d):
        d = strip_computed(dict(d))
        known = {k: d.pop(k) for k in IDENTITY_FIELDS + ("content", "metadata") if k in d}
        obj = cls(**known)
        obj.extra = d
        return obj

    @classmethod
    def _from_library(cls, d):
        """from_dict for a dict the library just wrote (json.loads of its text), consumed.

        The library always writes the 11 fields, fresh lists and dicts, and
        timestamps as isoformat() of a UTC datetime, so nothing is copied or
        normalized: the same object from_dict builds, without its copies.
        """
        pop = d.pop
        pop("entropy", None)
        pop("effective_tau", None)
        obj = cls.__new__(cls)
        obj.id = pop("id")
        obj.identity_type = pop("identity_type")
        obj.raw = pop("raw")
        obj.echo = pop("echo")
        obj.lang_axis = pop("lang_axis")
        obj.tags = pop("tags")
        obj.weight = pop("weight")
        obj.related_ids = pop("related_ids")
        obj.meta = pop("meta")
        obj.created_at = _fromisoformat(pop("created_at"))
        obj.updated_at = _fromisoformat(pop("updated_at"))
        legacy = {}
        if "content" in d:
            legacy["content"] = pop("content")
        if "metadata" in d:
            legacy["metadata"] = pop("metadata")
        obj._legacy = legacy
        obj.extra = d
        return obj

    def entropy(self):
        """Shannon entropy in bits, as the store computes it."""
        return model(self.to_dict())[0]

    @property
    def tau(self):
        """Effective decay time constant in seconds: base_tau * (1 + k * H)."""
        return model(self.to_dict(), _config.DEFAULT_BASE_TAU_SECONDS, _config.DEFAULT_K)[1]

    def effective_tau(self):
        return self.tau

    def decay_factor(self, now=None):
        """exp(-age / tau) at `now` (default: now), age from created_at."""
        now = parse_time(now) or datetime.datetime.now(datetime.timezone.utc)
        tau = self.tau
        if tau <= 0:
            return 0.0
        return math.exp(-(now - self.created_at).total_seconds() / tau)

    def __eq__(self, other):
        return isinstance(other, Identity) and self.to_dict() == other.to_dict()

    def __repr__(self):
        return "Identity(id=%r, identity_type=%r)" % (self.id, self.identity_type)
