"""Durations as people type them: ``30s``, ``15m``, ``1h``, ``30d``, or several: ``1h30m``.

One parser for every place that takes a duration (token expiry, ``--in`` of a schedule, ...).
"""

import re

FORMS = "a whole number and a unit: 30s, 15m, 1h or 30d (or several, as in 1h30m)"
TEN_YEARS = 10 * 366 * 86400

_DURATION = re.compile(r"\s*(?:\d{1,9}\s*[smhd]\s*)+", re.ASCII)
_PART = re.compile(r"(\d{1,9})\s*([smhd])", re.ASCII)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text, maximum=TEN_YEARS):
    """Seconds in ``text``; ValueError, fit to show a user, when it is not a duration from
    one second to ``maximum`` seconds."""
    if not isinstance(text, str) or _DURATION.fullmatch(text) is None:
        raise ValueError(f"'{text}' is not a duration; use {FORMS}")
    seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(text))
    if not 0 < seconds <= maximum:
        raise ValueError(f"'{text}' is out of range; use 1s to {maximum // 86400}d")
    return seconds
