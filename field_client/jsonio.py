"""JSON in and out of the device, fast (orjson) with exactly the standard library's results.

orjson differs from ``json`` in a few corners; each of them is left to ``json``, so what the
device reads and stores stays the same (and a stored push body is never re-encoded):

- integers beyond 64 bits: orjson reads them as floats, so text with a run of 19 or more
  digits is read by ``json`` (a cheap scan: ``bytes.translate`` and one ``find``);
- what orjson refuses to read (lone surrogate escapes, 1e400, deep nesting) is read by
  ``json``, which decides; what it refuses to write (integers beyond 64 bits, lone
  surrogates, non-string keys) is written by ``json``.

Output is compact UTF-8 (Chinese kept readable), as ``json.dumps(..., ensure_ascii=False,
separators=(",", ":"))`` writes it, except that floats use the shortest exponent (``1e-7``
for ``1e-07``). NaN and infinities never reach ``dumps``: the field rules refuse them.
Used by the transport (answers) and the store (records, outbox values).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["dumps", "loads"]

_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_NUMBER = b"0" * 19  # a 64-bit integer has at most 20 digits; 19 is a safe threshold
_std_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def loads(data: bytes) -> Any:
    """Decode JSON bytes as ``json.loads`` does (raising ``ValueError`` where it does)."""
    if _LONG_NUMBER not in data.translate(_DIGITS):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # json decides, with its own message
    return json.loads(data)


def dumps(value: Any) -> str:
    """Encode a JSON value as compact text."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return _std_dumps(value)
