"""JSON in and out of the C ABI: what Python values may cross, and how.

Identities and forms cross as UTF-8 JSON text. Going in, a dict (or an
object with to_dict()) is encoded strictly: NaN and infinities are refused
(the library refuses them too, but a clear Python error names the value),
datetimes become ISO 8601, numpy-like scalars and arrays become numbers and
lists, and anything else is a TypeError naming its type. Text (str/bytes)
is passed through unchanged for the library to validate.
"""

import datetime
import json

from .errors import InvalidArgument

_decoder = json.JSONDecoder()
loads = json.loads


def _default(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return tolist()
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    raise TypeError("%s is not JSON serializable" % type(value).__name__)


_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                            default=_default)


def dumps(value, what="value"):
    """Compact UTF-8-safe JSON text of `value`; InvalidArgument/TypeError naming `what`."""
    try:
        return _encoder.encode(value)
    except ValueError as e:  # NaN / infinity, circular reference
        raise InvalidArgument(2, "%s: %s" % (what, e)) from None
    except TypeError as e:
        raise TypeError("%s: %s" % (what, e)) from None


def as_dict(obj, what):
    """A dict from a dict or an object with to_dict(); TypeError otherwise."""
    if isinstance(obj, dict):
        return obj
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        d = to_dict()
        if not isinstance(d, dict):
            raise TypeError("%s: to_dict() returned %s, not a dict" % (what, type(d).__name__))
        return d
    raise TypeError("%s must be a dict, an object with to_dict() or JSON text, not %s"
                    % (what, type(obj).__name__))


def encode_object(obj, what):
    """UTF-8 bytes of one JSON object given as dict, to_dict() object, str or bytes."""
    if isinstance(obj, bytes):
        return obj
    if isinstance(obj, str):
        return obj.encode("utf-8")
    return dumps(as_dict(obj, what), what).encode("utf-8")


def encode_array(items, what):
    """UTF-8 bytes of a JSON array of objects (each as encode_object accepts)."""
    if isinstance(items, (str, bytes)):
        return items.encode("utf-8") if isinstance(items, str) else items
    parts = []
    for i, obj in enumerate(items):
        label = "%s[%d]" % (what, i)
        if isinstance(obj, (str, bytes)):
            text = obj.decode("utf-8") if isinstance(obj, bytes) else obj
            parts.append(text)
        else:
            parts.append(dumps(as_dict(obj, label), label))
    return ("[" + ",".join(parts) + "]").encode("utf-8")


def encode_str(value, what):
    """UTF-8 bytes of a string argument (id, anchor, type); TypeError otherwise."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    elif not isinstance(value, bytes):
        raise TypeError("%s must be a string, not %s" % (what, type(value).__name__))
    if b"\0" in value:
        raise InvalidArgument(2, "%s must not contain a NUL character" % what)
    return value
