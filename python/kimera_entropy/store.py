"""Store: the Pythonic face of one kimera_store handle (kimera/kimera_c.h).

Every C function has a method here. Identities go in as dicts, objects with
to_dict(), or JSON text, and come out as dicts in the reference's to_dict()
shape plus "entropy" (bits) and "effective_tau" (seconds). Failures raise
KimeraError subclasses carrying the status code and the library's message;
nothing is written when an input is refused.

Thread-safety: every method may be called from many threads at once on one
Store, except close(), which must not run concurrently with another call.
"""

import ctypes
import datetime
import os
import threading

from . import _config
from . import _native
from ._json import dumps, encode_array, encode_object, encode_str, loads
from .errors import NOT_FOUND, KimeraError, StoreClosed

_lib = _native.lib
_take = _native.take_string
_raise = _native.raise_for
_byref = ctypes.byref
_void = ctypes.c_void_p
_u64 = ctypes.c_uint64
_string_at = ctypes.string_at
_free = _lib.kimera_free
_fetch = _lib.kimera_fetch
_find = _lib.kimera_find_by_entropy


def _load_text(ptr):
    """json.loads of the UTF-8 JSON text at a library-owned char* (not NULL), freed.

    Decoded here rather than by json.loads(bytes), whose encoding detection
    and surrogatepass decoding cost more than the str copy.
    """
    value = ptr.value
    try:
        return loads(_string_at(value).decode("utf-8"))
    finally:
        _free(value)


def _micros(now):
    """now_micros of the C ABI from None (the store's clock), a datetime or epoch seconds."""
    if now is None:
        return 0
    if isinstance(now, datetime.datetime):
        if now.tzinfo is None:
            now = now.replace(tzinfo=datetime.timezone.utc)
        return int(round(now.timestamp() * 1e6))
    return int(round(float(now) * 1e6))


def _seconds(now):
    """now_seconds of the form calls from None (the store's clock), a datetime or epoch seconds."""
    if now is None:
        return 0.0
    if isinstance(now, datetime.datetime):
        if now.tzinfo is None:
            now = now.replace(tzinfo=datetime.timezone.utc)
        return now.timestamp()
    return float(now)


def _opt(value, what):
    return None if value is None else encode_str(value, what)


def _limit(value, what="limit"):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("%s must be an int, not %s" % (what, type(value).__name__))
    if value < 0:
        raise ValueError("%s must be >= 0 (got %d)" % (what, value))
    return value


def model(identity, base_tau_seconds=_config.DEFAULT_BASE_TAU_SECONDS, k=_config.DEFAULT_K):
    """(entropy in bits, effective tau in seconds) of one identity, computed by the library."""
    h, tau, err = ctypes.c_double(), ctypes.c_double(), _void()
    st = _lib.kimera_model(encode_object(identity, "identity"), float(base_tau_seconds),
                           float(k), _byref(h), _byref(tau), _byref(err))
    if st:
        _raise(st, err)
    return h.value, tau.value


class _Calls:
    """The handle of a Store and the calls running on it: close() waits for them.

    kimera_close must not run while another call uses the handle (the C
    ABI's one thread-safety rule); a Store is shared by threads, and the
    compat layer closes it for them (close_storage, the last release).
    """

    def __init__(self, handle):
        self._handle = handle
        self._running = 0
        self._cond = threading.Condition(threading.Lock())

    def enter(self):
        with self._cond:
            if not self._handle:
                raise StoreClosed(2, "the store is closed")
            self._running += 1
            return self._handle

    def leave(self):
        with self._cond:
            self._running -= 1
            if self._running == 0:
                self._cond.notify_all()

    def close(self):
        """The handle, once no call runs on it (None when already closed); later calls fail."""
        with self._cond:
            handle, self._handle = self._handle, None
            self._cond.wait_for(lambda: self._running == 0)
            return handle

    @property
    def closed(self):
        return not self._handle


class Store:
    """One open store stack: RocksDB, the entropy plugin, dual-write when configured.

    Store(path) opens (creating) the database folder `path` with the default
    configuration. `config` is a dict of sections ({"dual_write": {"enabled":
    True}}) or TOML text; `config_file` the path of a TOML file (kimera.toml's
    format; not with `path` or `config`). `apply_env` applies KIMERA_METRICS_*
    and KIMERA_ID_DUAL_WRITE as the CLI does; `serve_metrics` starts the
    /metrics endpoint when the configuration enables it.
    """

    def __init__(self, path=None, *, config=None, config_file=None, apply_env=False,
                 serve_metrics=False):
        self._calls = _Calls(None)
        flags = (_native.OPEN_APPLY_ENV if apply_env else 0) | (
            _native.OPEN_SERVE_METRICS if serve_metrics else 0)
        if config_file is not None:
            if path is not None or config is not None:
                raise ValueError("config_file cannot be combined with path or config")
            with open(config_file, "rb") as f:
                sections = _config.tomllib.load(f)
            text, kind = os.fspath(config_file), _native.CONFIG_PATH
        elif isinstance(config, (str, bytes)):
            text = config.decode("utf-8") if isinstance(config, bytes) else config
            sections = _config.tomllib.loads(text)
            if path is not None:
                text = _config.merge(text, {"storage": {"path": os.fspath(path)}})
            kind = _native.CONFIG_TEXT
        else:
            sections = {s: dict(t) for s, t in (config or {}).items()}
            if path is not None:
                sections.setdefault("storage", {})["path"] = os.fspath(path)
            text, kind = _config.to_toml(sections), _native.CONFIG_TEXT
        self.base_tau_seconds, self.k = _config.entropy_params(sections)
        self.path = sections.get("storage", {}).get("path", "./kimera-data")
        handle, err = _void(), _void()
        st = _lib.kimera_open(text.encode("utf-8"), kind, flags, _byref(handle), _byref(err))
        if st:
            _raise(st, err)
        self._calls = _Calls(handle.value)

    # ---- lifetime -----------------------------------------------------------

    def close(self):
        """Closes the store once the calls running on it return; idempotent.

        Calls made after it starts raise StoreClosed.
        """
        h = self._calls.close()
        if h:
            _lib.kimera_close(h)

    @property
    def closed(self):
        return self._calls.closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def __repr__(self):
        return "<kimera_entropy.Store %r%s>" % (self.path, " closed" if self.closed else "")

    def _invoke(self, fn, *args):
        """fn(handle, *args), with close() waiting until it returns."""
        h = self._calls.enter()
        try:
            return fn(h, *args)
        finally:
            self._calls.leave()

    def _out_text(self, fn, *args):
        out, err = _void(), _void()
        st = self._invoke(fn, *args, _byref(out), _byref(err))
        if st:
            _raise(st, err)
        return _take(out)

    def _out_count(self, fn, *args):
        n, err = _u64(), _void()
        st = self._invoke(fn, *args, _byref(n), _byref(err))
        if st:
            _raise(st, err)
        return n.value

    def _call(self, fn, *args):
        err = _void()
        st = self._invoke(fn, *args, _byref(err))
        if st:
            _raise(st, err)

    # ---- identities ---------------------------------------------------------

    def store(self, identity):
        """Inserts or replaces one identity (dict, to_dict() object or JSON text)."""
        self._call(_lib.kimera_store_identity, encode_object(identity, "identity"))

    store_identity = store

    def store_many(self, identities):
        """Stores an iterable of at most MAX_STORE_MANY identities (or JSON array text) in one
        call; returns how many.

        Every element is checked first: one bad element, or an id given twice, raises
        InvalidArgument naming its index and stores nothing. On the embedded store all are then
        committed in one atomic batch, so any error means none was stored. With a
        second-database dual-write secondary or a separate index they are stored one at a
        time; an error's `stored` attribute tells how many, from the first, were.
        """
        stored, err = ctypes.c_size_t(), _void()
        st = self._invoke(_lib.kimera_store_many, encode_array(identities, "identities"),
                                    _byref(stored), _byref(err))
        if st:
            try:
                _raise(st, err)
            except KimeraError as e:
                e.stored = stored.value
                raise
        return stored.value

    def fetch_json(self, id):
        """The stored identity as JSON text, or None when absent."""
        out, err = _void(), _void()
        st = self._invoke(_lib.kimera_fetch, encode_str(id, "id"), _byref(out), _byref(err))
        if st == NOT_FOUND:
            _take(err)
            return None
        if st:
            _raise(st, err)
        return _take(out)

    def fetch(self, id):
        """The identity stored under `id` as a dict; NotFound when absent."""
        out, err = _void(), _void()
        st = self._invoke(_fetch, encode_str(id, "id"), _byref(out), _byref(err))
        if st:
            _raise(st, err)
        return _load_text(out)

    def get(self, id, default=None):
        """The identity stored under `id` as a dict, or `default` when absent."""
        out, err = _void(), _void()
        st = self._invoke(_fetch, encode_str(id, "id"), _byref(out), _byref(err))
        if st:
            if st == NOT_FOUND:
                _take(err)
                return default
            _raise(st, err)
        return _load_text(out)

    def fetch_many(self, ids):
        """The identities of `ids` in the order asked, absent ids skipped."""
        ids = list(ids)
        for i, x in enumerate(ids):
            if not isinstance(x, str):
                raise TypeError("ids[%d] must be a string, not %s" % (i, type(x).__name__))
        out, err = _void(), _void()
        st = self._invoke(_lib.kimera_fetch_many, dumps(ids, "ids").encode("utf-8"), _byref(out),
                                    _byref(err))
        if st:
            _raise(st, err)
        return _load_text(out)

    def remove(self, id):
        """Deletes the identity stored under `id`; NotFound when absent."""
        self._call(_lib.kimera_remove, encode_str(id, "id"))

    def list(self, identity_type=None, lang_axis=None, limit=10):
        """At most `limit` identities, newest updated_at first, optionally filtered."""
        return loads(self._out_text(_lib.kimera_list, _opt(identity_type, "identity_type"),
                                    _opt(lang_axis, "lang_axis"), _limit(limit)))

    def count(self, identity_type=None):
        """Number of identities, of `identity_type` or of all."""
        return self._out_count(_lib.kimera_count, _opt(identity_type, "identity_type"))

    def __len__(self):
        return self.count()

    def __contains__(self, id):
        return self.fetch_json(id) is not None

    def find_by_entropy(self, min_entropy=0.0, max_entropy=float("inf"), limit=10):
        """At most `limit` identities with min <= H <= max, highest entropy first."""
        out, err = _void(), _void()
        st = self._invoke(_find, float(min_entropy), float(max_entropy), _limit(limit),
                   _byref(out), _byref(err))
        if st:
            _raise(st, err)
        return _load_text(out)

    def scan_page(self, start_after=None, page_size=1000):
        """(identities, next_cursor) of one page in id order; next_cursor None at the end."""
        out, cursor, err = _void(), _void(), _void()
        st = self._invoke(_lib.kimera_scan_page, _opt(start_after, "start_after"),
                                   _limit(page_size, "page_size"), _byref(out), _byref(cursor),
                                   _byref(err))
        if st:
            _take(out)
            _take(cursor)
            _raise(st, err)
        return loads(_take(out)), _take(cursor)

    def scan(self, start_after=None, page_size=1000):
        """Iterates every identity in id order, `page_size` per call into the library."""
        if page_size <= 0:
            raise ValueError("page_size must be > 0")
        cursor = start_after
        while True:
            page, cursor = self.scan_page(cursor, page_size)
            yield from page
            if cursor is None:
                return

    __iter__ = scan

    def decay(self, id, now=None):
        """Applies decay to one identity at `now` (None: the store's clock; never compounds)."""
        self._call(_lib.kimera_decay, encode_str(id, "id"), _micros(now))

    def decay_all(self, now=None):
        """Applies decay to every identity; returns how many changed."""
        return self._out_count(_lib.kimera_decay_all, _micros(now))

    def sync(self):
        """Makes every acknowledged write durable."""
        self._call(_lib.kimera_sync)

    def model(self, identity):
        """(entropy, effective tau) of `identity` with this store's [entropy] parameters."""
        return model(identity, self.base_tau_seconds, self.k)

    # ---- administration -----------------------------------------------------

    def dual_write_check(self, id):
        """{"id", "result", "fields", "entropy_drift"}; InvalidArgument when dual-write is off."""
        return loads(self._out_text(_lib.kimera_dual_write_check, encode_str(id, "id")))

    def dual_write_stats(self, recent=10):
        """Dual-write totals with the `recent` newest audit entries."""
        return loads(self._out_text(_lib.kimera_dual_write_stats, _limit(recent, "recent")))

    def dual_write_verify(self, repair=False):
        """One sweep of every id (repair: also fixes the secondary); the report as a dict."""
        return loads(self._out_text(_lib.kimera_dual_write_verify, 1 if repair else 0))

    def dual_write_cleanup(self):
        """Drops the legacy tables and audit log; refused while dual-write is on."""
        self._call(_lib.kimera_dual_write_cleanup)

    def index_check(self, repair=False):
        """Checks (and with repair fixes) the entropy index; the report as a dict."""
        return loads(self._out_text(_lib.kimera_index_check, 1 if repair else 0))

    def metrics_text(self):
        """The Prometheus text exposition of this store's metrics."""
        return self._out_text(_lib.kimera_metrics_text)

    # ---- echo forms ---------------------------------------------------------

    def form_store(self, form):
        """Inserts or replaces a form {"anchor", "blob", "domain", "phase", "intensity_sum"}."""
        self._call(_lib.kimera_form_store, encode_object(form, "form"))

    def form_fetch(self, anchor):
        """The form under `anchor` (with created_at/updated_at epoch seconds); NotFound."""
        return loads(self._out_text(_lib.kimera_form_fetch, encode_str(anchor, "anchor")))

    def form_get(self, anchor, default=None):
        """The form under `anchor`, or `default` when absent."""
        out, err = _void(), _void()
        st = self._invoke(_lib.kimera_form_fetch, encode_str(anchor, "anchor"), _byref(out),
                                    _byref(err))
        if st == NOT_FOUND:
            _take(err)
            return default
        if st:
            _raise(st, err)
        return loads(_take(out))

    def form_list(self, domain=None, limit=10):
        """At most `limit` forms, newest updated_at first, of `domain` or of all."""
        return loads(self._out_text(_lib.kimera_form_list, _opt(domain, "domain"),
                                    _limit(limit)))

    def form_count(self, domain=None):
        """Number of forms, of `domain` or of all."""
        return self._out_count(_lib.kimera_form_count, _opt(domain, "domain"))

    def form_prune(self, older_than_seconds, now=None):
        """Deletes the forms created before now - older_than_seconds; returns how many."""
        return self._out_count(_lib.kimera_form_prune, float(older_than_seconds), _seconds(now))

    def form_delete_domain(self, domain):
        """Deletes every form of `domain`; returns how many."""
        return self._out_count(_lib.kimera_form_delete_domain, encode_str(domain, "domain"))

    def form_decay(self, tau_seconds, now=None):
        """Decays every form's term intensities (never compounding); returns how many changed."""
        return self._out_count(_lib.kimera_form_decay, float(tau_seconds), _seconds(now))
