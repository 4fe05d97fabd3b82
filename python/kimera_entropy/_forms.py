"""Echo forms as compat takes them, and the `conn` the reference exposes.

A form comes in as an object with flatten() (the host's EchoForm; anchor,
domain and phase read from its attributes, else from the blob) or as a dict
that is the flattened blob itself. intensity_sum is the sum of the blob's
term intensities counted as entropy counts them (numbers and booleans > 0).
"""

import numbers
import re

from ._identity import counted_intensity
from .errors import InvalidArgument


def _pick(form, blob, name):
    value = getattr(form, name, None) if form is not blob else None
    return value if value is not None else blob.get(name)


def intensity_sum(blob):
    terms = blob.get("terms")
    total = 0.0
    if isinstance(terms, list):
        for term in terms:
            if isinstance(term, dict):
                x = counted_intensity(term.get("intensity"))
                if x is not None:
                    total += x
    return total


def form_record(form, anchor=None):
    """The C ABI's form object {anchor, blob, domain, phase, intensity_sum} of `form`."""
    flatten = getattr(form, "flatten", None)
    if callable(flatten):
        blob = flatten()
    elif isinstance(form, dict):
        blob = form
    else:
        raise TypeError("a form must have flatten() or be a dict, not %s" % type(form).__name__)
    if not isinstance(blob, dict):
        raise TypeError("flatten() must return a dict, not %s" % type(blob).__name__)
    source = form if callable(flatten) else blob
    if anchor is None:
        anchor = _pick(source, blob, "anchor")
    if not isinstance(anchor, str) or not anchor:
        raise InvalidArgument(2, "form: 'anchor' must be a non-empty string (got %r)" % (anchor,))
    domain = _pick(source, blob, "domain")
    phase = _pick(source, blob, "phase")
    if isinstance(phase, numbers.Real) and not isinstance(phase, bool):
        phase = float(phase)
    else:
        phase = 0.0  # a non-numeric phase stays in the blob only
    return {"anchor": anchor, "blob": blob, "domain": "" if domain is None else str(domain),
            "phase": phase, "intensity_sum": intensity_sum(blob)}


def form_row(form):
    """list_forms' row of a form the library returned."""
    return {k: form.get(k) for k in ("anchor", "created_at", "updated_at", "domain", "phase",
                                     "intensity_sum")}


_DELETE_DOMAIN = re.compile(
    r"^\s*DELETE\s+FROM\s+echoforms\s+WHERE\s+domain\s*=\s*(?:(\?)|'((?:[^']|'')*)')\s*;?\s*$",
    re.IGNORECASE | re.DOTALL)


class SqlAdapter:
    """The reference's raw `conn`, reduced to the one statement its callers run.

    execute() performs `DELETE FROM echoforms WHERE domain = ?` (one
    parameter) or `... = 'literal'` through the store, and sets rowcount to
    the number of forms deleted; any other SQL raises NotImplementedError
    naming the statement. commit() and close() do nothing (every call is
    already durable as the store's writes are; close() leaves the store open).
    """

    def __init__(self, storage):
        self._storage = storage
        self.rowcount = -1

    def execute(self, sql, params=None):
        if not isinstance(sql, str):
            raise TypeError("sql must be a string, not %s" % type(sql).__name__)
        m = _DELETE_DOMAIN.match(sql)
        if m is None:
            raise NotImplementedError(
                "kimera_entropy.compat conn.execute runs only \"DELETE FROM echoforms WHERE "
                "domain = ?\"; not supported: %r" % sql)
        if m.group(1):
            if isinstance(params, dict) or params is None or len(params) != 1:
                raise ValueError("%r takes exactly one parameter (got %r)" % (sql, params))
            domain = params[0]
            if not isinstance(domain, str):
                raise TypeError("the domain parameter must be a string, not %s" %
                                type(domain).__name__)
        else:
            if params:
                raise ValueError("%r takes no parameters (got %r)" % (sql, params))
            domain = m.group(2).replace("''", "'")
        self.rowcount = self._storage._native().form_delete_domain(domain)
        return self

    # DuckDB (the reference's engine) answers a DELETE with one row: the
    # number of rows deleted.
    def fetchall(self):
        return [(self.rowcount,)]

    def fetchone(self):
        return (self.rowcount,)

    def commit(self):
        pass

    def close(self):
        pass
