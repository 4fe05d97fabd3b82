"""Drop-in for the reference Kimera's storage module, over libkimera.

In a Kimera checkout, kimera/storage.py becomes

    from kimera_entropy.compat import *

and kimera/storage_dual_write.py

    from kimera_entropy.compat import DualWriteStorage, get_dual_write_storage

Every public name of the reference keeps its signature and return shape.
Where this one differs on purpose (decay never compounds; `conn` runs only
the statement the reference's callers run; where the data lives beside
db_path): docs/python.md, "Differences from the reference".

Thread-safety: a storage object may be used from many threads at once,
except close(), which must not run concurrently with another call on it.
"""

import threading

from ._dual_write import DualWriteStorage
from ._forms import form_record
from ._lattice import LatticeStorage, env_dual_write
from ._timing import get_storage_metrics, reset_storage_metrics, storage_timer

__all__ = [
    "LatticeStorage", "DualWriteStorage",
    "get_storage", "close_storage", "get_dual_write_storage",
    "storage_timer", "get_storage_metrics", "reset_storage_metrics",
    "store_form", "fetch_form", "fetch_recent", "delete_older_than",
]


# ---- module level -------------------------------------------------------------

_storage = None
_storage_lock = threading.Lock()


def get_storage(db_path="kimera_lattice.db"):
    """The process-wide storage (DualWriteStorage when KIMERA_ID_DUAL_WRITE=1 at the first call)."""
    global _storage
    with _storage_lock:
        if _storage is None or _storage._shared is None:  # never opened, or closed directly
            cls = DualWriteStorage if env_dual_write() else LatticeStorage
            _storage = cls(db_path)
        return _storage


def close_storage():
    """Closes the process-wide storage; the next get_storage() opens a new one."""
    global _storage
    with _storage_lock:
        storage, _storage = _storage, None
    if storage is not None:
        storage.close()


def get_dual_write_storage(db_path="kimera_lattice.db"):
    """A new DualWriteStorage on every call."""
    return DualWriteStorage(db_path)


def store_form(anchor, blob):
    """Stores the flattened form `blob` (a dict) under `anchor` in the process-wide storage."""
    get_storage()._native().form_store(form_record(blob, anchor=anchor))


def fetch_form(anchor):
    """The blob stored under `anchor`, or None."""
    form = get_storage()._native().form_get(anchor)
    return None if form is None else form["blob"]


def fetch_recent(n):
    """The blobs of the `n` most recently updated forms, newest first."""
    return [f["blob"] for f in get_storage()._native().form_list(None, int(n))]


def delete_older_than(seconds):
    """Deletes the forms created more than `seconds` ago; returns how many."""
    return get_storage()._native().form_prune(float(seconds))
