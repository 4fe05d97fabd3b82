"""Loading libkimera.so and declaring the C ABI of kimera/kimera_c.h.

Where the library is looked for, first found wins:
  1. the file named by the environment variable KIMERA_LIBRARY (an error
     when it names nothing: a pinned library never falls back silently);
  2. the build folder: $KIMERA_BUILD_DIR/libkimera.so, then
     <repository>/build/libkimera.so when this package sits in a checkout;
  3. the installed library: ctypes.util.find_library("kimera"), then
     libkimera.so in the standard library folders.
The library's kimera_abi_version() must be ABI_VERSION.

Every char* the library hands out is declared c_void_p (not c_char_p, which
would copy and lose the pointer) and freed with kimera_free() once read.
"""

import ctypes
import ctypes.util
import os

from .errors import LibraryNotFound, error_for

ABI_VERSION = 1
# KIMERA_MAX_STORE_MANY: the most identities one store_many call takes.
MAX_STORE_MANY = 10000
OPEN_SERVE_METRICS = 1
OPEN_APPLY_ENV = 2
CONFIG_TEXT = 0
CONFIG_PATH = 1

_LIB_NAME = "libkimera.so"
_STANDARD_DIRS = (
    "/usr/local/lib",
    "/usr/local/lib/x86_64-linux-gnu",
    "/usr/local/lib/aarch64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
)


def candidate_paths():
    """The places looked at, in order, as (description, path or name)."""
    out = []
    env = os.environ.get("KIMERA_LIBRARY")
    if env:
        out.append(("KIMERA_LIBRARY", env))
        return out
    build_dir = os.environ.get("KIMERA_BUILD_DIR")
    if build_dir:
        out.append(("KIMERA_BUILD_DIR", os.path.join(build_dir, _LIB_NAME)))
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out.append(("build folder", os.path.join(repo, "build", _LIB_NAME)))
    found = ctypes.util.find_library("kimera")
    if found:
        out.append(("find_library", found))
    for d in _STANDARD_DIRS:
        out.append(("installed", os.path.join(d, _LIB_NAME)))
    return out


def _load():
    tried = []
    for how, path in candidate_paths():
        if os.path.sep in path and not os.path.exists(path):
            tried.append("%s (%s: no such file)" % (path, how))
            if how == "KIMERA_LIBRARY":
                break
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s: %s)" % (path, how, e))
            if how == "KIMERA_LIBRARY":
                break
            continue
        if not hasattr(lib, "kimera_abi_version"):
            tried.append("%s (%s: no kimera_abi_version: not the C ABI library)" % (path, how))
            continue
        lib.kimera_abi_version.restype = ctypes.c_int
        lib.kimera_abi_version.argtypes = []
        version = lib.kimera_abi_version()
        if version != ABI_VERSION:
            raise LibraryNotFound(
                "%s has C ABI version %d; kimera_entropy needs %d" % (path, version, ABI_VERSION))
        return lib, path
    raise LibraryNotFound(
        "libkimera.so not found; set KIMERA_LIBRARY to its path, or KIMERA_BUILD_DIR to the "
        "build folder. Tried: " + "; ".join(tried))


_P = ctypes.c_void_p
_PP = ctypes.POINTER(ctypes.c_void_p)
_S = ctypes.c_char_p
_SIZE = ctypes.c_size_t
_U64P = ctypes.POINTER(ctypes.c_uint64)
_SIZEP = ctypes.POINTER(ctypes.c_size_t)
_DBL = ctypes.c_double
_DBLP = ctypes.POINTER(ctypes.c_double)
_INT = ctypes.c_int
_I64 = ctypes.c_int64

# name: (restype, argtypes); every status-returning call ends with char** error.
_PROTOTYPES = {
    "kimera_version": (_S, []),
    "kimera_status_name": (_S, [_INT]),
    "kimera_free": (None, [_P]),
    "kimera_open": (_INT, [_S, _INT, ctypes.c_uint, _PP, _PP]),
    "kimera_close": (None, [_P]),
    "kimera_store_identity": (_INT, [_P, _S, _PP]),
    "kimera_store_many": (_INT, [_P, _S, _SIZEP, _PP]),
    "kimera_fetch": (_INT, [_P, _S, _PP, _PP]),
    "kimera_fetch_many": (_INT, [_P, _S, _PP, _PP]),
    "kimera_remove": (_INT, [_P, _S, _PP]),
    "kimera_list": (_INT, [_P, _S, _S, _SIZE, _PP, _PP]),
    "kimera_count": (_INT, [_P, _S, _U64P, _PP]),
    "kimera_find_by_entropy": (_INT, [_P, _DBL, _DBL, _SIZE, _PP, _PP]),
    "kimera_scan_page": (_INT, [_P, _S, _SIZE, _PP, _PP, _PP]),
    "kimera_decay": (_INT, [_P, _S, _I64, _PP]),
    "kimera_decay_all": (_INT, [_P, _I64, _U64P, _PP]),
    "kimera_sync": (_INT, [_P, _PP]),
    "kimera_model": (_INT, [_S, _DBL, _DBL, _DBLP, _DBLP, _PP]),
    "kimera_dual_write_check": (_INT, [_P, _S, _PP, _PP]),
    "kimera_dual_write_stats": (_INT, [_P, _SIZE, _PP, _PP]),
    "kimera_dual_write_verify": (_INT, [_P, _INT, _PP, _PP]),
    "kimera_dual_write_cleanup": (_INT, [_P, _PP]),
    "kimera_index_check": (_INT, [_P, _INT, _PP, _PP]),
    "kimera_metrics_text": (_INT, [_P, _PP, _PP]),
    "kimera_form_store": (_INT, [_P, _S, _PP]),
    "kimera_form_fetch": (_INT, [_P, _S, _PP, _PP]),
    "kimera_form_list": (_INT, [_P, _S, _SIZE, _PP, _PP]),
    "kimera_form_count": (_INT, [_P, _S, _U64P, _PP]),
    "kimera_form_prune": (_INT, [_P, _DBL, _DBL, _U64P, _PP]),
    "kimera_form_delete_domain": (_INT, [_P, _S, _U64P, _PP]),
    "kimera_form_decay": (_INT, [_P, _DBL, _DBL, _U64P, _PP]),
}


def _declare(lib, path):
    """Sets every prototype; ImportError naming what a too-old library lacks."""
    missing = [name for name in _PROTOTYPES if getattr(lib, name, None) is None]
    if missing:
        raise ImportError("%s does not export %s: rebuild it from this checkout"
                          % (path, ", ".join(missing)))
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


lib, library_path = _load()
_declare(lib, library_path)
_free = lib.kimera_free


def take_string(ptr):
    """The UTF-8 text at a library-owned char* (a c_void_p), freed; None for NULL."""
    value = ptr.value
    if not value:
        return None
    try:
        return ctypes.string_at(value).decode("utf-8")
    finally:
        _free(value)


def raise_for(status, err):
    """Raises the KimeraError of a failed call, freeing its message."""
    message = take_string(err)
    raise error_for(status, message if message is not None else "(no message)")


def check(status, err):
    if status:
        raise_for(status, err)
