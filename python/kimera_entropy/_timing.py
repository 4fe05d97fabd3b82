"""The reference's storage timers: storage_timer(name) and the totals it keeps.

get_storage_metrics() gives {op: total seconds, op + "_count": calls} for
every timed operation since the last reset_storage_metrics().

Thread-safety: safe from many threads; the totals are guarded by one lock.
"""

import contextlib
import functools
import threading
import time

_lock = threading.Lock()
_seconds = {}
_counts = {}
_clock = time.perf_counter


@contextlib.contextmanager
def storage_timer(name):
    """Times the body into get_storage_metrics()[name] (and name + "_count")."""
    start = _clock()
    try:
        yield
    finally:
        _record(name, _clock() - start)


def _record(name, elapsed):
    with _lock:
        _seconds[name] = _seconds.get(name, 0.0) + elapsed
        _counts[name] = _counts.get(name, 0) + 1


def timed(name):
    """Decorator: the call is timed as storage_timer(name) would."""
    def wrap(fn):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            start = _clock()
            try:
                return fn(*args, **kwargs)
            finally:
                _record(name, _clock() - start)
        return call
    return wrap


def get_storage_metrics():
    """{op: seconds, op + "_count": n} of every operation timed so far."""
    with _lock:
        out = {}
        for name, seconds in _seconds.items():
            out[name] = seconds
            out[name + "_count"] = _counts[name]
        return out


def reset_storage_metrics():
    """Forgets every total."""
    with _lock:
        _seconds.clear()
        _counts.clear()
