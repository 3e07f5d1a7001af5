"""Office edits and conflict resolution: stamped by the server's node, judged by the same rules."""

from __future__ import annotations

import uuid
from typing import Any

from peewee import Database

from server.db import write_transaction
from server.metrics import write_lock_timer
from server.store.engine import ApplyResult, Author, Batch, apply_changes, load_rows
from server.store.reads import get_record
from server.store.sql import (
    State,
    bound_db,
    database_errors,
    db_time,
    read_state,
    sql_for,
    write_state,
)
from sync import (
    RECORD_TYPES,
    Change,
    ErrorCode,
    Incoming,
    InvalidStamp,
    ProtocolError,
    Rejection,
    Stamp,
)

# -- office edits and conflict resolution -------------------------------------------------------


def office_edit(
    workspace_id: str,
    user_id: str | None,
    record_type: str,
    record_id: str,
    values: dict[str, Any],
    bases: dict[str, str | None],
    *,
    now_ms: int,
) -> ApplyResult:
    """Apply an edit made in the office, stamped with the server's node, in one transaction.

    ``values`` maps field (or ``_deleted``: True deletes, False restores) -> new value;
    ``bases`` maps field -> the stamp the form showed (None or missing: the field was empty).
    A stale base becomes a conflict (the office value wins, the other is kept for review),
    never a silent overwrite. Creating a record is an office edit of a new id. Validation
    problems come back in ``rejected``; nothing is raised for them.
    """
    db = bound_db()
    with write_lock_timer() as timer, database_errors(), write_transaction(db):
        state = read_state(db, workspace_id, lock=True)
        timer.locked()
        return _office_in_transaction(
            db, state, workspace_id, user_id, record_type, record_id, values, bases,
            now_ms=now_ms, source="office",
        )  # fmt: skip


def _office_in_transaction(
    db: Database,
    state: State,
    workspace_id: str,
    user_id: str | None,
    record_type: str,
    record_id: str,
    values: dict[str, Any],
    bases: dict[str, str | None],
    *,
    now_ms: int,
    source: str,
) -> ApplyResult:
    errors = _office_envelope_errors(record_type, record_id, values, bases)
    if errors:
        return ApplyResult(rejected=[Rejection(0, record_type, record_id, errors).to_json()])
    stamp = str(state.clock(now_ms).tick())
    writes = {name: Incoming(v, stamp, bases.get(name)) for name, v in values.items()}
    author = Author(user_id, None, state.node_id)
    batch = Batch(
        workspace_id, author, source, db_time(db, now_ms), strict_base=True, now_ms=now_ms
    )
    apply_changes(db, state, batch, [Change.of(0, record_type, record_id, writes)])
    state.last_stamp = max(stamp, state.last_stamp)
    write_state(db, state)
    return ApplyResult(
        applied=batch.applied,
        unchanged=batch.unchanged,
        conflicts=batch.conflicts,
        rejected=[r.to_json() for r in batch.rejected],
        record=None if batch.rejected else get_record(workspace_id, record_id),
        stamp=stamp,
    )


def _office_envelope_errors(
    record_type: str, record_id: str, values: dict[str, Any], bases: dict[str, str | None]
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if record_type not in RECORD_TYPES:
        errors["type"] = ["unknown record type"]
    try:
        if str(uuid.UUID(record_id)) != record_id:
            raise ValueError(record_id)
    except (ValueError, TypeError, AttributeError):
        errors["id"] = ["must be a lower-case UUID"]
    if not values:
        errors["set"] = ["nothing to change"]
    for name, base in bases.items():
        if base is not None:
            try:
                Stamp.parse(base)
            except InvalidStamp:
                errors.setdefault(name, []).append("the form's version stamp is not valid")
    return errors


def resolve_conflict(
    workspace_id: str, conflict_id: str, user_id: str, value: Any, *, now_ms: int
) -> ApplyResult:
    """Resolve a conflict by writing ``value`` (kept, other or new) as an office edit.

    The edit's base is the field's current stamp, so it simply becomes the newest value. The
    conflict, and every other open conflict of the same record and field, is marked resolved
    (resolved_by, resolved_at, resolution_stamp) when the value is accepted; a rejected value
    leaves them open. Raises ``ProtocolError``: ``not_found`` (no such conflict in this
    workspace), ``conflict`` (already resolved).
    """
    db = bound_db()
    with write_lock_timer() as timer, database_errors(), write_transaction(db):
        state = read_state(db, workspace_id, lock=True)
        timer.locked()
        row = db.execute_sql(
            sql_for(db, 'SELECT record_id, record_type, field, status FROM "conflict"'
                 " WHERE id = ? AND workspace_id = ?"),
            (conflict_id, workspace_id),
        ).fetchone()  # fmt: skip
        if row is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, "No such conflict in this workspace.")
        record_id, record_type, name, status = row
        if status != "open":
            raise ProtocolError(ErrorCode.CONFLICT, "This conflict is already resolved.")
        current = load_rows(db, workspace_id, [record_id]).get(record_id)
        base = None if current is None else current.stamps.get(name)
        result = _office_in_transaction(
            db, state, workspace_id, user_id, record_type, record_id, {name: value},
            {name: base}, now_ms=now_ms, source="conflict_resolution",
        )  # fmt: skip
        if result.ok:
            db.execute_sql(
                sql_for(db, 'UPDATE "conflict" SET status = ?, resolved_by = ?, resolved_at = ?,'
                     " resolution_stamp = ? WHERE workspace_id = ? AND record_id = ?"
                     " AND field = ? AND status = ?"),
                ("resolved", user_id, db_time(db, now_ms), result.stamp, workspace_id,
                 record_id, name, "open"),
            )  # fmt: skip
        return result
