"""LatticeStorage: the reference's identity and echo-form storage over one shared Store.

Thread-safety: a storage object may be used from many threads at once; the
store under it closes only once the calls running on it return, and calls
made after that raise StoreClosed.
"""

import json
import math
import os
import re
import threading
import uuid

from . import _paths
from ._config import DEFAULT_BASE_TAU_SECONDS
from ._forms import SqlAdapter, form_record, form_row
from ._identity import (epoch_seconds, form_reinflate, identity_from_dict, identity_maker,
                        strip_computed)
from ._timing import timed
from .errors import StoreClosed

_DAY = 86400.0


def _env_flag(name, default):
    """A 0/1/true/false environment variable as the library reads it; default when unset.

    An invalid value also gives the default here: the library refuses it by
    name when the store opens (KIMERA_OPEN_APPLY_ENV).
    """
    value = os.environ.get(name)
    if value in ("1", "true"):
        return True
    if value in ("0", "false"):
        return False
    return default


def env_dual_write():
    """KIMERA_ID_DUAL_WRITE: 1/true on; 0/false/unset off."""
    return _env_flag("KIMERA_ID_DUAL_WRITE", False)


def _config_maker(base_tau_seconds):
    def make(db_folder):
        # The library applies KIMERA_ID_DUAL_WRITE and KIMERA_METRICS_* too
        # (KIMERA_OPEN_APPLY_ENV, which also refuses invalid values); the
        # configuration mirrors them so that the Python side knows the state
        # and a reopen (apply_identity_decay) keeps it.
        metrics = {"enabled": _env_flag("KIMERA_METRICS_ENABLED", True)}
        detailed = _env_flag("KIMERA_METRICS_DETAILED", None)
        if detailed is not None:
            metrics["detailed"] = detailed
        return {
            "storage": {"path": db_folder},
            "metrics": metrics,
            "entropy": {"base_tau_seconds": float(base_tau_seconds)},
            "dual_write": {"enabled": env_dual_write(), "secondary": "legacy"},
        }
    return make


def _identity(d):
    return identity_from_dict()(strip_computed(d))


def _like(query):
    """The regex of SQL LIKE '%query%' (case-sensitive, % and _ wildcards)."""
    parts = []
    for ch in query:
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(parts), re.DOTALL)


def _newest_first(rows):
    rows.sort(key=lambda d: d.get("id", ""))
    rows.sort(key=lambda d: epoch_seconds(d["updated_at"]), reverse=True)
    return rows


class LatticeStorage:
    """The reference's identity storage; db_path is a file (see docs/python.md, "Paths")."""

    def __init__(self, db_path="kimera_lattice.db"):
        self._shared = None
        self._close_lock = threading.Lock()
        self.db_path = db_path if db_path == _paths.MEMORY else os.fspath(db_path)
        self._shared = _paths.acquire(self.db_path, _config_maker(DEFAULT_BASE_TAU_SECONDS))
        self._conn = SqlAdapter(self)

    # ---- lifetime -------------------------------------------------------------

    @property
    def conn(self):
        """The raw handle "for migration scripts": see SqlAdapter."""
        return self._conn

    def _native(self):
        shared = self._shared
        if shared is None:
            raise StoreClosed(2, "%s: the storage is closed" % self.db_path)
        return shared.store

    def close(self):
        """Closes this storage; idempotent. The store closes with its last user."""
        with self._close_lock:
            shared, self._shared = self._shared, None
        if shared is not None:
            _paths.release(shared)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            if getattr(self, "_shared", None) is not None:
                self.close()
        except Exception:  # interpreter shutdown
            pass

    # ---- identities -----------------------------------------------------------

    @timed("store_identity")
    def store_identity(self, identity):
        """Inserts or replaces; keeps the first created_at, sets updated_at to now."""
        self._native().store(identity)

    @timed("fetch_identity")
    def fetch_identity(self, identity_id):
        """The stored identity (legacy keys included), or None."""
        d = self._native().get(identity_id)
        return None if d is None else identity_maker()(d)

    def get_identity(self, identity_id):
        return self.fetch_identity(identity_id)

    def fetch_geoid(self, geoid_id):
        return self.fetch_identity(geoid_id)

    @timed("list_identities")
    def list_identities(self, limit=10, identity_type=None, lang_axis=None):
        """Rows {id, identity_type, created_at, updated_at, lang_axis, entropy_score}, newest first."""
        return [{
            "id": d["id"],
            "identity_type": d["identity_type"],
            "created_at": epoch_seconds(d["created_at"]),
            "updated_at": epoch_seconds(d["updated_at"]),
            "lang_axis": d.get("lang_axis", ""),
            "entropy_score": d["entropy"],
        } for d in self._native().list(identity_type, lang_axis, limit)]

    @timed("get_identity_count")
    def get_identity_count(self, identity_type=None):
        return self._native().count(identity_type)

    @timed("find_identities_by_entropy")
    def find_identities_by_entropy(self, min_entropy=0.0, max_entropy=float("inf"), limit=10):
        """Identities with min <= H <= max, highest entropy first."""
        # One call: the identities come back whole, never fetched again.
        make = identity_maker()
        return [make(d) for d in self._native().find_by_entropy(min_entropy, max_entropy, limit)]

    @timed("apply_identity_decay")
    def apply_identity_decay(self, base_tau_days=14.0):
        """Decays every identity's weight and term intensities by exp(-age / tau_eff).

        Unlike the reference, which multiplies by the factor of the whole age
        again on every call (so two calls decay twice), the library remembers
        when it last decayed each identity and applies only the time since:
        calling it twice, or every minute, gives the same values as calling
        it once. tau_eff = base_tau * (1 + k * H) with the store's k (0.1).
        A base_tau_days other than the store's (14 days) reopens the store
        with that base tau, which then also sets the effective_tau it
        reports; that is refused (ValueError) while the path is open more
        than once in this process.
        """
        days = float(base_tau_days)
        if not (math.isfinite(days) and days > 0):
            raise ValueError("base_tau_days must be a finite number > 0 (got %r)" % base_tau_days)
        shared = self._shared
        if shared is None:
            raise StoreClosed(2, "%s: the storage is closed" % self.db_path)
        if days * _DAY != shared.config["entropy"]["base_tau_seconds"]:
            config = {section: dict(table) for section, table in shared.config.items()}
            config["entropy"]["base_tau_seconds"] = days * _DAY
            _paths.reopen(shared, config)
        shared.store.decay_all()

    def _new_identity(self, identity_type, obj):
        text = str(obj)
        self.store_identity({"id": str(uuid.uuid4()), "identity_type": identity_type,
                             "raw": text, "echo": text, "content": text, "metadata": {}})

    def store_geoid(self, geoid):
        """Stores an identity as is, or a new geoid built from str(geoid)."""
        if callable(getattr(geoid, "to_dict", None)):
            return self.store_identity(geoid)
        self._new_identity("geoid", geoid)

    def store_scar(self, scar):
        """Stores an identity as is, or a new scar built from str(scar)."""
        if callable(getattr(scar, "to_dict", None)):
            return self.store_identity(scar)
        self._new_identity("scar", scar)

    def store_echo_form(self, echo_form):
        """Stores a new geoid whose raw (and echo) is the form's flattened JSON."""
        blob = form_record(echo_form)["blob"]
        text = json.dumps(blob, ensure_ascii=False, default=str)
        self.store_identity({"id": str(uuid.uuid4()), "identity_type": "geoid", "raw": text,
                             "echo": text})

    def _scan(self, keep):
        return _newest_first([d for d in self._native().scan() if keep(d)])

    @timed("search_identities")
    def search_identities(self, query, limit=10):
        """Identities whose raw or echo match LIKE '%query%', newest first; [] on error."""
        try:
            pattern = _like(str(query))
            hits = self._scan(lambda d: pattern.search(d.get("raw", "")) is not None
                              or pattern.search(d.get("echo", "")) is not None)
            return [_identity(d) for d in hits[:max(int(limit), 0)]]
        except Exception:
            return []

    @timed("get_related_scars")
    def get_related_scars(self, identity_id):
        """Scars whose related_ids contain identity_id (all of them), newest first."""
        return [_identity(d) for d in self._scan(
            lambda d: d.get("identity_type") == "scar" and identity_id in d.get("related_ids", ()))]

    @timed("get_scars_by_type")
    def get_scars_by_type(self, relationship_type):
        """Scars whose meta.relationship_type equals relationship_type, newest first."""
        def keep(d):
            meta = d.get("meta")
            return (d.get("identity_type") == "scar" and isinstance(meta, dict)
                    and meta.get("relationship_type") == relationship_type)
        return [_identity(d) for d in self._scan(keep)]

    # ---- echo forms -----------------------------------------------------------

    @timed("store_form")
    def store_form(self, form):
        """Inserts or replaces form.flatten() under its anchor, keeping the first created_at."""
        self._native().form_store(form_record(form))

    def update_form(self, form):
        return self.store_form(form)

    @timed("fetch_form")
    def fetch_form(self, anchor):
        """EchoForm.reinflate(blob) (the blob dict without kimera.echoform), or None."""
        form = self._native().form_get(anchor)
        if form is None:
            return None
        reinflate = form_reinflate()
        return reinflate(form["blob"]) if reinflate else form["blob"]

    @timed("list_forms")
    def list_forms(self, limit=10, domain=None):
        """Rows {anchor, created_at, updated_at, domain, phase, intensity_sum}, newest first."""
        return [form_row(f) for f in self._native().form_list(domain, limit)]

    @timed("get_form_count")
    def get_form_count(self, domain=None):
        return self._native().form_count(domain)

    @timed("prune_old_forms")
    def prune_old_forms(self, older_than_seconds=None, older_than_days=None):
        """Deletes forms created before the cutoff (default 30 days); returns how many."""
        if older_than_seconds is None:
            older_than_seconds = (30.0 if older_than_days is None else older_than_days) * _DAY
        return self._native().form_prune(float(older_than_seconds))

    @timed("apply_time_decay")
    def apply_time_decay(self, tau_days=14.0):
        """Decays every form's term intensities by exp(-age / tau); never compounds."""
        self._native().form_decay(float(tau_days) * _DAY)
