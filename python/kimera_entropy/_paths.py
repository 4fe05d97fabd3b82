"""Where a compat store's data lives, given the reference's db_path, a FILE path.

The rule (docs/python.md, "Paths"):
- `<db_path>` itself holds one JSON line, the marker: {"magic":
  "kimera-entropy-store", "version": 1, "store_id": <random hex>, "folder":
  "<name>.kimera"}. It says the path is ours and which folder is its data.
- `<db_path>.kimera/` holds `store.json` (the same store_id) and `db/`, the
  RocksDB database.
- A missing or empty `<db_path>` starts a fresh, empty store: the marker is
  written (into the empty file when one exists). A leftover
  `<db_path>.kimera/` whose store_id does not match (the file was deleted
  since) is moved aside to `<db_path>.kimera.orphan-<UTC time>/`, never
  deleted.
- A non-empty `<db_path>` that is not a marker is refused (InvalidArgument
  naming the path); it is never overwritten.
- ":memory:" is a temporary folder, removed when the store closes.
- Opening one path twice in a process shares one open store (by realpath,
  with a reference count); the RocksDB handle is opened once.

Thread-safety: acquire() and release() may be called from any thread.
"""

import datetime
import errno
import fcntl
import json
import os
import shutil
import tempfile
import threading
import uuid
import warnings

from .errors import Busy, InvalidArgument, StorageIOError
from .store import Store

MAGIC = "kimera-entropy-store"
MEMORY = ":memory:"

_lock = threading.Lock()
_open = {}  # realpath of db_path -> SharedStore


class SharedStore:
    """One open Store for one db_path, shared by every compat instance of that path."""

    def __init__(self, key, store, folder, temporary, config):
        self.key = key
        self.store = store
        self.folder = folder
        self.temporary = temporary
        self.config = config  # the sections it was opened with
        self.refs = 1

    @property
    def dual_write(self):
        return self.config["dual_write"]["enabled"]


def folder_of(db_path):
    """The data folder of `db_path`."""
    return os.fspath(db_path) + ".kimera"


def _read_marker(path):
    """None for a missing or empty file, the marker dict, or InvalidArgument when foreign."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise InvalidArgument(2, "%s is a directory; db_path must name a file" % path) from None
    if not head.strip():
        return None
    try:
        marker = json.loads(head.split(b"\n", 1)[0].decode("utf-8"))
    except ValueError:
        marker = None
    if not isinstance(marker, dict) or marker.get("magic") != MAGIC or not isinstance(
            marker.get("store_id"), str):
        raise InvalidArgument(
            2, "%s exists and is not a kimera_entropy store (no %r marker); refusing to use or "
            "overwrite it" % (path, MAGIC))
    return marker


def _folder_id(folder):
    try:
        with open(os.path.join(folder, "store.json"), "rb") as f:
            return json.loads(f.read().decode("utf-8")).get("store_id")
    except (OSError, ValueError, AttributeError):
        return None


def _locked_by_other_process(folder):
    """True when another process holds the RocksDB LOCK of `folder`/db."""
    lock = os.path.join(folder, "db", "LOCK")
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    except OSError as e:
        return e.errno in (errno.EACCES, errno.EAGAIN)
    finally:
        os.close(fd)


def _move_aside(folder):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = "%s.orphan-%s" % (folder, stamp)
    n = 1
    while os.path.exists(target):
        n += 1
        target = "%s.orphan-%s-%d" % (folder, stamp, n)
    os.rename(folder, target)
    warnings.warn("%s did not belong to its db_path's store; moved aside to %s" %
                  (folder, target), RuntimeWarning, stacklevel=4)
    return target


def _write_marker(path, store_id, folder):
    line = json.dumps({"magic": MAGIC, "version": 1, "store_id": store_id,
                       "folder": os.path.basename(folder)}) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        # An existing empty file: write into it, still refusing one that
        # gained content meanwhile.
        fd = os.open(path, os.O_RDWR)
        if os.fstat(fd).st_size != 0:
            os.close(fd)
            raise InvalidArgument(2, "%s changed while it was being opened" % path) from None
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _prepare(path):
    """The data folder of file `path`, made ready: marker and folder agree."""
    folder = folder_of(path)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise StorageIOError(4, "%s: folder %s does not exist" % (path, parent))
    marker = _read_marker(path)
    store_id = marker["store_id"] if marker else uuid.uuid4().hex
    if os.path.exists(folder) and _folder_id(folder) != store_id:
        if _locked_by_other_process(folder):
            raise Busy(6, "%s is open in another process and does not match %s" % (folder, path))
        _move_aside(folder)
    if not os.path.exists(folder):
        if marker:
            warnings.warn("%s: its data folder %s is missing; starting an empty store" %
                          (path, folder), RuntimeWarning, stacklevel=4)
        os.makedirs(os.path.join(folder, "db"))
        with open(os.path.join(folder, "store.json"), "w", encoding="utf-8") as f:
            json.dump({"magic": MAGIC, "version": 1, "store_id": store_id,
                       "created": datetime.datetime.now(datetime.timezone.utc).isoformat()}, f)
            f.write("\n")
    if not marker:
        _write_marker(path, store_id, folder)
    return folder


def acquire(db_path, make_config):
    """The SharedStore of `db_path`, opened on first use with make_config(db_folder)."""
    if db_path == MEMORY:
        folder = tempfile.mkdtemp(prefix="kimera-memory-")
        try:
            config = make_config(os.path.join(folder, "db"))
            return SharedStore(None, Store(config=config, apply_env=True), folder, True, config)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    path = os.fspath(db_path)
    if not isinstance(path, str) or not path:
        raise TypeError("db_path must be a non-empty str or os.PathLike")
    key = os.path.realpath(path)
    with _lock:
        shared = _open.get(key)
        if shared is not None:
            shared.refs += 1
            return shared
        # By the real path, as the sharing above: a symlink and its target
        # are one store, with one data folder beside the real file.
        folder = _prepare(key)
        config = make_config(os.path.join(folder, "db"))
        shared = SharedStore(key, Store(config=config, apply_env=True), folder, False, config)
        _open[key] = shared
        return shared


def release(shared):
    """Drops one reference; the last closes the store (and removes a :memory: folder)."""
    with _lock:
        shared.refs -= 1
        if shared.refs > 0:
            return
        if shared.key is not None and _open.get(shared.key) is shared:
            del _open[shared.key]
        # Under the lock: an acquire() of the same path in between would open
        # the database while it is still open here.
        shared.store.close()
    if shared.temporary:
        shutil.rmtree(shared.folder, ignore_errors=True)


def reopen(shared, config):
    """Reopens `shared` with `config` (environment not applied again); only with one user."""
    with _lock:
        if shared.refs != 1:
            raise ValueError("the store is open %d times in this process; its configuration "
                             "cannot change until only one user is left" % shared.refs)
        shared.store.close()
        try:
            shared.store = Store(config=config)
        except BaseException:
            shared.store = Store(config=shared.config)
            raise
        shared.config = config
