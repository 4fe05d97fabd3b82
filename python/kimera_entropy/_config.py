"""The store's configuration as TOML text (kimera.toml's format).

Store() takes the configuration as a dict of sections ({"storage": {"path":
...}, "dual_write": {"enabled": True}}), as TOML text, or as the path of a
TOML file; a dict is written out here, and text given with a `path` is
parsed (tomllib), merged and written out again. The library validates every
key and names the one at fault.
"""

import math
import tomllib

DEFAULT_BASE_TAU_SECONDS = 1209600.0  # [entropy] base_tau_seconds: 14 days.
DEFAULT_K = 0.1                       # [entropy] k.


def _value(v, where):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError("%s: %r is not a finite number" % (where, v))
        return repr(v)
    if isinstance(v, str):
        out = ['"']
        for ch in v:
            if ch in '"\\':
                out.append("\\" + ch)
            elif ord(ch) < 0x20 or ord(ch) == 0x7F:
                out.append("\\u%04x" % ord(ch))
            else:
                out.append(ch)
        out.append('"')
        return "".join(out)
    raise TypeError("%s: %s values cannot go in the configuration" % (where, type(v).__name__))


def to_toml(sections):
    """TOML text of {section: {key: value}} (one level of tables)."""
    lines = []
    for section, table in sections.items():
        if not isinstance(table, dict):
            raise TypeError("configuration section %r must be a dict" % section)
        lines.append("[%s]" % section)
        for key, v in table.items():
            lines.append("%s = %s" % (key, _value(v, "%s.%s" % (section, key))))
        lines.append("")
    return "\n".join(lines)


def merge(text, overrides):
    """TOML text of `text` (TOML) with the sections of `overrides` laid over it."""
    base = tomllib.loads(text) if text else {}
    for section, table in overrides.items():
        base.setdefault(section, {}).update(table)
    return to_toml(base)


def entropy_params(sections):
    """(base_tau_seconds, k) a configuration dict sets, or the defaults."""
    entropy = sections.get("entropy", {}) if isinstance(sections, dict) else {}
    return (float(entropy.get("base_tau_seconds", DEFAULT_BASE_TAU_SECONDS)),
            float(entropy.get("k", DEFAULT_K)))
