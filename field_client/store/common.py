"""What the store's modules share: JSON, labels, search text, the SQLite error guard, rows."""

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


def search_text(rtype: str, fields: dict[str, Any]) -> str:
    """Return the text a record is found by: its string values except references."""
    refs = _REFS.get(rtype, frozenset())
    return "\n".join([v for k, v in fields.items() if isinstance(v, str) and k not in refs])


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
