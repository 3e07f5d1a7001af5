"""The one JSON codec of both sides: fast (orjson), the standard library's results, no NaN.

The policy, the same for the server and the field client:

- NaN and the infinities are not JSON: ``loads`` refuses ``NaN``, ``Infinity`` and
  ``-Infinity`` and ``dumps`` refuses float nan and inf (``ValueError`` both ways), where
  ``json`` would accept them and orjson would quietly write ``null``;
- integers beyond 64 bits: orjson reads them as floats, so text with a run of 19 or more
  digits is read by ``json`` (a cheap scan: ``bytes.translate`` and one ``find``);
- every number is read strictly: one beyond a double's range (``1e400``, which ``json``
  would read as infinity) or an integer longer than the interpreter converts (4,300 digits)
  raises ``NumberOutOfRange``, a ``ValueError`` the API answers with 422, where any other
  unreadable text is simply not JSON;
- what orjson refuses to read (lone surrogate escapes, 1e400, deep nesting) is read by
  ``json``, which decides; what it refuses to write (integers beyond 64 bits, lone
  surrogates, non-string keys) is written by ``json``.

Output is compact UTF-8 (Chinese kept readable), as ``json.dumps(..., ensure_ascii=False,
separators=(",", ":"))`` writes it, except that floats use the shortest exponent (``1e-7``
for ``1e-07``).
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

__all__ = ["NumberOutOfRange", "dumps", "dumps_bytes", "loads"]

_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_NUMBER = b"0" * 19  # a 64-bit integer has at most 20 digits; 19 is a safe threshold
_std_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


class NumberOutOfRange(ValueError):
    """A JSON number that no value here holds exactly: beyond a double, or too many digits."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # number text never reads as nan; only overflow gives inf
        raise NumberOutOfRange(f"{text[:40]} is beyond the range of a number (about 1.8e308)")
    return value


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError as exc:  # past the interpreter's digit limit (4,300 by default)
        raise NumberOutOfRange(f"an integer of {len(text)} digits is too long") from exc


def loads(data: bytes | str) -> Any:
    """Decode UTF-8 JSON; NaN and Infinity are refused, and numbers out of range.

    Raises ``ValueError`` (and ``RecursionError`` for absurd nesting) as ``json.loads`` does;
    ``NumberOutOfRange`` for a number too large to hold.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if _LONG_NUMBER not in raw.translate(_DIGITS):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # json decides, with its own message
    return json.loads(
        raw.decode("utf-8"),
        parse_constant=_reject_constant,
        parse_float=_finite_float,
        parse_int=_whole_number,
    )


def _check_finite(value: Any) -> None:
    """Raise ``ValueError`` when a float nan or inf hides in a JSON value."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                raise ValueError(f"{item!r} is not JSON")
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)


def dumps_bytes(value: Any) -> bytes:
    """Encode a JSON value as compact UTF-8 bytes; nan and inf are refused."""
    try:
        encoded = orjson.dumps(value)
    except orjson.JSONEncodeError:
        return _std_dumps(value).encode()
    if b"null" in encoded:  # orjson writes nan and inf as null: only then look closer
        _check_finite(value)
    return encoded


def dumps(value: Any) -> str:
    """Encode a JSON value as compact text; nan and inf are refused."""
    return dumps_bytes(value).decode()
