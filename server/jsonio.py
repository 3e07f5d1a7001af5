"""JSON in and out of the server, fast (orjson) with exactly the standard library's results.

orjson differs from ``json`` in a few corners; each of them is left to ``json``, so what the
server accepts, refuses and stores stays the same:

- integers beyond 64 bits: orjson reads them as floats, so text with a run of 19 or more
  digits is read by ``json`` (a cheap scan: ``bytes.translate`` and one ``find``);
- what orjson refuses to read (lone surrogate escapes, 1e400, deep nesting) is read by
  ``json``, which decides; what it refuses to write (integers beyond 64 bits, lone
  surrogates, non-string keys) is written by ``json``.

Output is compact UTF-8 (Chinese kept readable), as ``json.dumps(..., ensure_ascii=False,
separators=(",", ":"))`` writes it, except that floats use the shortest exponent (``1e-7``
for ``1e-07``). NaN and infinities never reach ``dumps``: the field rules refuse them.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["dumps", "dumps_bytes", "loads"]

_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_NUMBER = b"0" * 19  # a 64-bit integer has at most 20 digits; 19 is a safe threshold
_std_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(data: bytes) -> Any:
    """Decode UTF-8 JSON text; NaN and Infinity are refused. Raises ``ValueError`` (and
    ``RecursionError`` for absurd nesting) as ``json.loads`` does."""
    if _LONG_NUMBER not in data.translate(_DIGITS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # json decides, with its own message
    return json.loads(data.decode("utf-8"), parse_constant=_reject_constant)


def dumps(value: Any) -> str:
    """Encode a JSON value as compact text."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return _std_dumps(value)


def dumps_bytes(value: Any) -> bytes:
    """Encode a JSON value as compact UTF-8 bytes."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return _std_dumps(value).encode()
