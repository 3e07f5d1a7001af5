"""Query building over the records' JSON ``fields`` (SQLite ``json_extract``, PostgreSQL
``fields::jsonb ->> 'name'``), shared by the store's read modules, and the wire form of a row.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from peewee import SQL, Cast, ColumnBase, Expression, NodeList, fn

from server.db import is_postgres
from server.models import Record
from sync.records import RECORD_TYPES

_KNOWN_FIELDS = frozenset(name for t in RECORD_TYPES.values() for name in t.rules)


# Fields the record table also holds in indexed columns of their own (``models.Record``).
_COPIED = {"owner_id": Record.owner_id, "review_status": Record.review_status}


def field(name: str) -> ColumnBase:
    """The text of one JSON field of ``Record.fields`` as an SQL expression (NULL when absent)."""
    if name in _COPIED:
        return _COPIED[name]
    if name not in _KNOWN_FIELDS:  # the name is spliced into SQL: only known field names
        raise ValueError(f"unknown record field {name!r}")
    if is_postgres():
        return NodeList((Cast(Record.fields, "jsonb"), SQL("->>"), SQL(f"'{name}'")), parens=True)
    return fn.json_extract(Record.fields, SQL(f"'$.{name}'"))


def _day(column: ColumnBase) -> ColumnBase:
    """The ISO date (YYYY-MM-DD) of a timestamp column."""
    if is_postgres():
        return fn.to_char(column, SQL("'YYYY-MM-DD'"))
    return fn.substr(column, 1, 10)


def created_day() -> ColumnBase:
    return _day(Record.created_at)


def updated_day() -> ColumnBase:
    return _day(Record.updated_at)


def field_day(name: str) -> ColumnBase:
    """The date part of a date or ISO time field (its local date, as written with its offset)."""
    return fn.substr(field(name), 1, 10)


def concern_day() -> ColumnBase:
    """The day a concern was collected: ``raised_on``, else its creation day."""
    return fn.COALESCE(field("raised_on"), created_day())


def contains(expression: ColumnBase, text: str) -> Expression:
    """Plain substring match (works for Chinese; no wildcard characters to escape)."""
    if is_postgres():
        return fn.strpos(expression, text) > 0
    return fn.instr(expression, text) > 0


def in_period(expression: ColumnBase, since: dt.date | None, until: dt.date | None) -> list[Any]:
    """Conditions putting an ISO date expression within since..until (inclusive)."""
    conditions: list[Any] = []
    if since is not None:
        conditions.append(expression >= since.isoformat())
    if until is not None:
        conditions.append(expression <= until.isoformat())
    return conditions


def live(workspace_id: str, record_type: str) -> Any:
    """Select the workspace's records of one type that are not deleted."""
    return Record.select().where(
        Record.workspace == workspace_id,
        Record.type == record_type,
        Record.deleted == False,  # noqa: E712 (peewee expression)
    )


def decode(row: Record) -> dict[str, Any]:
    """Turn a Record row into the wire form (PROTOCOL.md section 4)."""
    return {
        "type": row.type,
        "id": row.id,
        "fields": json.loads(row.fields or "{}"),
        "stamps": json.loads(row.stamps or "{}"),
        "deleted": bool(row.deleted),
        "meta": {
            "workspace_id": row.workspace_id,
            "created_by": row.created_by,
            "created_at": row.created_at,
            "updated_by": row.updated_by,
            "updated_at": row.updated_at,
            "updated_device": row.updated_device,
            "seq": row.seq,
        },
    }
