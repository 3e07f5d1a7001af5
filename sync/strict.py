"""Strict parsing of every number, date and time a client sends: ASCII digits, one canonical
spelling, bounded. Shared by the device API, the office forms and the field UI.

Python's ``int``, ``float`` and ``str.isdigit`` accept any Unicode digit, signs, spaces and
underscores ("٣", " +0_3 "); a value that can be spelled two ways sorts and compares two ways.
Here each value has exactly one accepted spelling, and anything else raises ``ValueError``.
"""

from __future__ import annotations

import datetime as dt
import math
import re

__all__ = [
    "INT64_MAX",
    "is_canonical_date",
    "is_canonical_datetime",
    "parse_date",
    "parse_decimal",
    "parse_int",
    "parse_local_minute",
]

INT64_MAX = 2**63 - 1  # the largest sequence number or count any database column holds

_INT_RE = re.compile(r"-?(?:0|[1-9][0-9]{0,18})", re.ASCII)
_DECIMAL_RE = re.compile(r"-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,12})?", re.ASCII)
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_MINUTE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}", re.ASCII)
_DATETIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})",
    re.ASCII,
)


def parse_int(text: object, lo: int = 0, hi: int = INT64_MAX) -> int:
    """Return the whole number ``text`` spells canonically within [lo, hi]; else ValueError."""
    if type(text) is not str or _INT_RE.fullmatch(text) is None or text == "-0":
        raise ValueError(f"not a whole number: {str(text)[:40]!r}")
    value = int(text)
    if not lo <= value <= hi:
        raise ValueError(f"must be between {lo} and {hi}")
    return value


def parse_decimal(text: object, lo: float, hi: float) -> float:
    """Return the decimal number ``text`` spells (digits, one optional point) within [lo, hi]."""
    if type(text) is not str or _DECIMAL_RE.fullmatch(text) is None:
        raise ValueError(f"not a number: {str(text)[:40]!r}")
    value = float(text)
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ValueError(f"must be between {lo:g} and {hi:g}")
    return value


def parse_date(text: object) -> dt.date:
    """Return the date ``text`` spells as YYYY-MM-DD; else ValueError."""
    if type(text) is not str or _DATE_RE.fullmatch(text) is None:
        raise ValueError(f"not a date like 2024-05-31: {str(text)[:40]!r}")
    return dt.date.fromisoformat(text)


def parse_local_minute(text: object) -> dt.datetime:
    """Return the naive time ``text`` spells as YYYY-MM-DDTHH:MM (an HTML datetime-local)."""
    if type(text) is not str or _MINUTE_RE.fullmatch(text) is None:
        raise ValueError(f"not a time like 2024-05-31T09:30: {str(text)[:40]!r}")
    return dt.datetime.fromisoformat(text)


def is_canonical_date(value: object) -> bool:
    """Whether ``value`` is a real date written YYYY-MM-DD in ASCII digits."""
    try:
        parse_date(value)
    except ValueError:
        return False
    return True


def is_canonical_datetime(value: object) -> bool:
    """Whether ``value`` is an ISO 8601 time with seconds optional and an explicit offset."""
    if type(value) is not str or _DATETIME_RE.fullmatch(value) is None:
        return False
    try:
        dt.datetime.fromisoformat(value)  # (the pattern allows only forms it reads, Z too)
    except ValueError:
        return False
    return True
