"""Form text to field value: one coercion for every front end (office forms, field UI, CLI).

``coerce(rule, raw, tz=...)`` returns ``(value, None)`` or ``(None, Fault)``; each front end
renders the fault in its reader's language. Numbers, dates and times are read strictly
(``sync.strict``): ASCII digits, one spelling. A time typed without an offset is local to ``tz``.
Whether a list value (a category) is on the workspace's list is not decided here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sync import strict
from sync.records import (
    Bool,
    Choice,
    DateTime,
    Float,
    Int,
    ListChoice,
    RefList,
    Rule,
)
from sync.vocabulary import Fault

__all__ = ["coerce", "parse_time"]

_TRUE, _FALSE = frozenset({"1", "true", "yes", "on"}), frozenset({"0", "false", "no", "off"})


def parse_time(text: str, tz: dt.tzinfo | None) -> dt.datetime | None:
    """Read a typed or picked time ("2024-05-31 09:30", with or without seconds and offset); a
    time without offset is local to ``tz`` (else the system's zone). None when it is no time."""
    text = (text or "").strip().replace(" ", "T", 1)
    if not text or len(text) > 40 or not text.isascii():
        return None
    if strict.is_canonical_datetime(text):
        return dt.datetime.fromisoformat(text)
    try:
        moment = strict.parse_local_minute(text[:16])
        if len(text) > 16:  # seconds, as a picker may send them
            moment = moment.replace(second=strict.parse_int(text[17:], 0, 59))
            if text[16] != ":" or len(text) != 19:
                return None
    except ValueError:
        return None
    return moment.replace(tzinfo=tz) if tz is not None else moment.astimezone()


def coerce(rule: Rule, raw: Any, *, tz: dt.tzinfo | None = None) -> tuple[Any, Fault | None]:
    """Turn what a form sent for one field into its value, or say why it cannot."""
    if isinstance(rule, RefList):
        items = [x for x in (raw if isinstance(raw, list) else [raw]) if isinstance(x, str) and x]
        return (None, None) if not items else _checked(rule, items)
    text = raw.strip() if isinstance(raw, str) else ""
    if text == "":
        return None, None
    return _typed(rule, text, tz)


def _typed(rule: Rule, text: str, tz: dt.tzinfo | None) -> tuple[Any, Fault | None]:
    if isinstance(rule, Int):
        try:
            return _checked(rule, strict.parse_int(text, -strict.INT64_MAX, strict.INT64_MAX))
        except ValueError:
            return None, Fault("not_whole")
    if isinstance(rule, Float):
        try:
            return _checked(rule, strict.parse_decimal(text, -1e15, 1e15))
        except ValueError:
            return None, Fault("not_number")
    if isinstance(rule, DateTime):
        moment = parse_time(text, tz)
        if moment is None:
            return None, Fault("not_datetime")
        return _checked(rule, moment.isoformat(timespec="seconds"))
    if isinstance(rule, Bool):
        folded = text.casefold()
        if folded in _TRUE or folded in _FALSE:
            return folded in _TRUE, None
        return None, Fault("not_bool")
    if isinstance(rule, Choice) and not isinstance(rule, ListChoice) and text not in rule.values:
        return None, Fault("not_a_choice", choices=", ".join(rule.values))
    return _checked(rule, text)


def _checked(rule: Rule, value: Any) -> tuple[Any, Fault | None]:
    fault = rule.check(value)
    return (None, fault) if fault is not None else (value, None)
