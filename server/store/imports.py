"""Ledger imports in the database: what a file would repeat (names of places, fields of the
records of a type), writing an import with its ``ImportBatch`` row in one transaction, and
undoing it in one transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from peewee import Database

from server.models import ImportBatch, Record, utcnow
from server.store.batches import delete_values, office_batch
from server.store.query import field as jfield
from server.store.query import live
from server.store.sql import database_errors, guarded


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One ledger import: what it created (undo deletes exactly these), by whom, from what."""

    id: str
    workspace_id: str
    user_id: str | None  # None: the CLI
    record_type: str
    filename: str
    rows: int
    record_ids: list[str]
    created_at: dt.datetime | None
    undone_at: dt.datetime | None
    undone_by: str | None


def _row(batch: ImportBatch) -> ImportRow:
    return ImportRow(
        id=batch.id,
        workspace_id=batch.workspace_id,
        user_id=batch.user_id,
        record_type=batch.record_type,
        filename=batch.filename,
        rows=batch.rows,
        record_ids=list(json.loads(batch.record_ids or "[]")),
        created_at=batch.created_at,
        undone_at=batch.undone_at,
        undone_by=batch.undone_by,
    )


def place_names(workspace_id: str) -> Iterator[tuple[str, Any]]:
    """(id, name) of the workspace's live places, oldest first (streamed)."""
    with database_errors():
        rows = live(workspace_id, "place").select(Record.id, jfield("name")).order_by(Record.seq)
        yield from rows.tuples().iterator()


def live_fields(workspace_id: str, record_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(id, fields) of the workspace's live records of a type (streamed)."""
    with database_errors():
        rows = live(workspace_id, record_type).select(Record.id, Record.fields).tuples()
        for record_id, text in rows.iterator():
            yield record_id, json.loads(text or "{}")


@guarded
def write_import(
    workspace_id: str,
    user_id: str | None,
    record_type: str,
    filename: str,
    changes: list[tuple[str, str, dict[str, Any]]],
    *,
    now_ms: int,
) -> ImportRow:
    """Write the changes as office edits and the import's row, in one transaction, all or
    nothing (``server.store.batches.BatchRefused`` when any change is refused)."""
    batch_id = str(uuid.uuid4())

    def record_batch(db: Database, stamp: str) -> None:
        ImportBatch.insert(
            id=batch_id, workspace=workspace_id, user=user_id, record_type=record_type,
            filename=filename, rows=len(changes), created_at=utcnow(),
            record_ids=json.dumps([rid for _t, rid, _v in changes]),
        ).execute()  # fmt: skip

    office_batch(workspace_id, user_id, changes, now_ms=now_ms, source="import",
                 inside=record_batch)  # fmt: skip
    return _row(ImportBatch.get_by_id(batch_id))


class _AlreadyUndone(Exception):
    pass


@guarded
def undo_import(batch: ImportRow, user_id: str | None, *, now_ms: int) -> bool:
    """Delete every record of an import and mark it undone, in one transaction; False (and
    nothing changed) when it was undone already, even by a concurrent undo."""
    changes = [(batch.record_type, rid, delete_values()) for rid in batch.record_ids]

    def mark(db: Database, stamp: str) -> None:
        updated = (
            ImportBatch.update(undone_at=utcnow(), undone_by=user_id)
            .where(ImportBatch.id == batch.id, ImportBatch.undone_at.is_null())
            .execute()
        )
        if not updated:  # someone undid it meanwhile: roll this one back
            raise _AlreadyUndone

    try:
        office_batch(batch.workspace_id, user_id, changes, now_ms=now_ms, source="import_undo",
                     inside=mark)  # fmt: skip
    except _AlreadyUndone:
        return False
    return True


@guarded
def import_batch(workspace_id: str | None, batch_id: str) -> ImportRow | None:
    """One import of the workspace (None: of any workspace, for the CLI), or None."""
    query = ImportBatch.select().where(ImportBatch.id == batch_id)
    if workspace_id is not None:
        query = query.where(ImportBatch.workspace == workspace_id)
    found = query.first()
    return None if found is None else _row(found)


@guarded
def recent_imports(workspace_id: str, limit: int = 20) -> list[ImportRow]:
    """The workspace's latest imports, newest first."""
    rows = (
        ImportBatch.select()
        .where(ImportBatch.workspace == workspace_id)
        .order_by(ImportBatch.created_at.desc())
        .limit(limit)
    )
    return [_row(b) for b in rows]
