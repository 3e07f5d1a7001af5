"""The office's view of conflicts: open ones by page, one by id, those of a record. Plain rows.

Conflicts are written by the push engine and resolved by ``server.store.office``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from server.models import Conflict
from server.store.sql import guarded


@dataclass(frozen=True, slots=True)
class ConflictRow:
    id: str
    workspace_id: str
    record_id: str
    record_type: str
    field: str
    kept_value: str | None  # JSON
    kept_stamp: str
    kept_user: str | None
    kept_device: str | None
    other_value: str | None  # JSON
    other_stamp: str
    other_user: str | None
    other_device: str | None
    status: str
    created_at: dt.datetime | None
    resolved_at: dt.datetime | None
    resolved_by: str | None
    resolution_stamp: str | None


def conflict_row(row: Conflict) -> ConflictRow:
    return ConflictRow(
        id=row.id,
        workspace_id=row.workspace_id,
        record_id=row.record_id,
        record_type=row.record_type,
        field=row.field,
        kept_value=row.kept_value,
        kept_stamp=row.kept_stamp,
        kept_user=row.kept_user,
        kept_device=row.kept_device,
        other_value=row.other_value,
        other_stamp=row.other_stamp,
        other_user=row.other_user,
        other_device=row.other_device,
        status=row.status,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        resolution_stamp=row.resolution_stamp,
    )


def _open(workspace_id: str):  # type: ignore[no-untyped-def]
    return Conflict.select().where(Conflict.workspace == workspace_id, Conflict.status == "open")


@guarded
def open_conflicts(workspace_id: str, number: int, size: int) -> tuple[list[ConflictRow], int]:
    """Page ``number`` of the workspace's open conflicts, oldest first, and their total."""
    query = _open(workspace_id)
    total = query.count()
    rows = query.order_by(Conflict.created_at, Conflict.id).paginate(number, size)
    return [conflict_row(c) for c in rows], total


@guarded
def open_conflict_count(workspace_id: str) -> int:
    return int(_open(workspace_id).count())


@guarded
def conflict(workspace_id: str, conflict_id: str) -> ConflictRow | None:
    row = Conflict.get_or_none((Conflict.id == conflict_id) & (Conflict.workspace == workspace_id))
    return None if row is None else conflict_row(row)


@guarded
def conflicts_of(workspace_id: str, record_id: str) -> list[ConflictRow]:
    """The open conflicts of one record, oldest first."""
    rows = _open(workspace_id).where(Conflict.record_id == record_id)
    return [conflict_row(c) for c in rows.order_by(Conflict.created_at)]


@guarded
def open_conflicts_on(workspace_id: str, record_ids: Iterable[str] | None) -> list[ConflictRow]:
    """The workspace's open conflicts (on these records only, when given), oldest first."""
    query = _open(workspace_id)
    if record_ids is not None:
        query = query.where(Conflict.record_id.in_(sorted(set(record_ids))))
    return [conflict_row(c) for c in query.order_by(Conflict.created_at)]
