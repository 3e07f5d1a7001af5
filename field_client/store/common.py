"""What the store's modules share: JSON, labels, text search, the SQLite error guard, rows."""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple, ParamSpec, TypeVar

import peewee
from uuid6 import uuid7

from field_client.errors import StoreError, ValidationError
from sync import RECORD_TYPES, jsonio
from sync.casework import CLOSED_STATUSES as CLOSED_STATUSES  # the one definition

P = ParamSpec("P")
T = TypeVar("T")

TOKEN_FILE = "token"


def wall_ms() -> int:
    """Return the wall clock in epoch milliseconds (the default ``now`` of a store)."""
    return time.time_ns() // 1_000_000


def dumps(value: Any) -> str:
    """Serialize to compact JSON that keeps Chinese readable (and LIKE-searchable)."""
    return jsonio.dumps(value)


def label(record: dict[str, Any]) -> str:
    """Return a record's human name: its name, title or subject, else its id."""
    fields = record.get("fields", {})
    return str(fields.get("name") or fields.get("title") or fields.get("note") or record["id"])


_REFS = {name: record_type.refs for name, record_type in RECORD_TYPES.items()}


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _not_a_ref(rtype: str) -> str:
    refs = sorted(_REFS[rtype])
    return f"v.key NOT IN ({', '.join(map(_quoted, refs))})" if refs else "1"


# Whether a ``json_each`` row ``v`` of a record's fields is not one of its type's references:
# the test for each type, and the rest of a CASE on the record's type, for a search of any
# type. Made from ``sync.RECORD_TYPES``, the one list of references.
_NOT_A_REF = {rtype: _not_a_ref(rtype) for rtype in _REFS}
_NOT_A_REF_BY_TYPE = (
    " ".join(f"WHEN {_quoted(rtype)} THEN {test}" for rtype, test in _NOT_A_REF.items())
    + " ELSE 1 END"
)


def text_match(
    fields: peewee.Node, rtype_column: peewee.Node, text: str, rtype: str | None = None
) -> peewee.Node:
    """Return the SQL condition that a record holds ``text`` in the string value of one of
    its fields (top-level) but its references, ASCII letters in any case (SQLite's LIKE;
    Chinese as it is, ``%`` and ``_`` as themselves). ``fields`` and ``rtype_column`` are the
    record's columns as the query names them; ``rtype``, the type all its records are of.

    The store kept a copy of those values in a ``search`` column until schema version 7. Its
    upkeep was a sixth of a pull's CPU (10,000 visits: about 18 ms more of SQLite inserts and
    15-25 ms of Python to build it); searching the fields themselves costs a search of 10,000
    visits that finds nothing 12 ms of CPU instead of 11. Most records are passed over by a
    plain LIKE on their JSON text first (``json_each`` on every record: 35 ms), which misses
    no match when ``text`` needs no escape in JSON: the store keeps every other character of
    its fields' JSON as itself (``field_client.pulled`` writes anew the fields of a record
    that came with other escapes, and schema version 7 those held), so a value holding
    ``text`` holds it in the JSON text too.
    """
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if rtype in _NOT_A_REF:
        not_a_ref: peewee.Node = peewee.SQL(_NOT_A_REF[rtype])
    else:
        not_a_ref = peewee.NodeList(
            (peewee.SQL("CASE"), rtype_column, peewee.SQL(_NOT_A_REF_BY_TYPE))
        )
    exact = peewee.NodeList(
        (
            peewee.SQL("EXISTS (SELECT 1 FROM json_each("),
            fields,
            peewee.SQL(
                ") AS v WHERE v.type = 'text' AND v.value LIKE ? ESCAPE '\\' AND", [pattern]
            ),
            not_a_ref,
            peewee.SQL(")"),
        )
    )
    if jsonio.dumps(text)[1:-1] != text:  # a quote, a backslash or a control character
        return exact
    return peewee.NodeList((fields, peewee.SQL("LIKE ? ESCAPE '\\' AND", [pattern]), exact))


def guarded(method: Callable[P, T]) -> Callable[P, T]:
    """Turn SQLite failures (locked, corrupt, unreadable) into one StoreError."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(*args, **kwargs)
        except (peewee.DatabaseError, sqlite3.DatabaseError) as exc:
            raise StoreError(describe_db_error(exc), reason=str(exc)) from exc

    return wrapper


def describe_db_error(exc: Exception) -> str:
    """Name what went wrong with the database: locked, corrupt or unusable."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return "locked"
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return "corrupt"
    return "unusable"


class Row(NamedTuple):
    """One record row as stored (JSON columns still text)."""

    id: str
    type: str
    fields: str
    stamps: str
    deleted: bool
    meta: str


def record_type_of(rtype: str) -> Any:
    """Return the protocol's rules of a record type; raise ValidationError if unknown."""
    try:
        return RECORD_TYPES[rtype]
    except KeyError:
        raise ValidationError(
            "unknown record type", {"type": ["one of: " + ", ".join(RECORD_TYPES)]}
        ) from None


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    """Yield ``items`` in slices of ``size`` (SQLite limits the parameters of a query)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def new_id() -> str:
    """Return a fresh record id (UUIDv7, time-ordered)."""
    return str(uuid7())
