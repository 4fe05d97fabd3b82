"""kimera_entropy: the Kimera identity store (libkimera.so) from Python, over its C ABI.

    import kimera_entropy
    with kimera_entropy.Store("/var/lib/kimera") as store:
        store.store({"id": "g1", "identity_type": "geoid", "raw": "hello"})
        store.fetch("g1")["entropy"]

`kimera_entropy.compat` is a drop-in for the reference Kimera's storage
module (kimera/storage.py and kimera/storage_dual_write.py); see
docs/python.md. Importing this package loads libkimera.so (see
kimera_entropy._native for where it is looked for) and checks its C ABI
version; LibraryNotFound (an ImportError) says where it looked.
"""

from . import _native
from .errors import (Aborted, Busy, Corruption, InternalError, InvalidArgument, KimeraError,
                     LibraryNotFound, NoSpace, NotFound, StorageIOError, StoreClosed, Unavailable)
from .store import Store, model

ABI_VERSION = _native.ABI_VERSION
MAX_STORE_MANY = _native.MAX_STORE_MANY
library_path = _native.library_path


def abi_version():
    """kimera_abi_version() of the loaded library."""
    return _native.lib.kimera_abi_version()


def library_version():
    """kimera_version() of the loaded library ("0.1.0")."""
    return _native.lib.kimera_version().decode("utf-8")


def status_name(code):
    """kimera_status_name(code): "ok", "not_found", ..., "internal"."""
    return _native.lib.kimera_status_name(code).decode("utf-8")


__all__ = [
    "Store", "model", "abi_version", "library_version", "status_name", "library_path",
    "ABI_VERSION", "MAX_STORE_MANY", "KimeraError", "NotFound", "InvalidArgument", "Corruption", "StorageIOError",
    "NoSpace", "Busy", "Unavailable", "Aborted", "InternalError", "StoreClosed",
    "LibraryNotFound",
]
