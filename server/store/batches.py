"""Many office writes as one: an import creates its records, its undo deletes them, all or none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from peewee import Database

from server.db import write_transaction
from server.store.engine import ApplyResult, Author, Batch, apply_changes, load_rows
from server.store.sql import bound_db, database_errors, db_time, read_state, write_state
from sync import DELETED, Change, ErrorCode, Incoming, ProtocolError


class BatchRefused(ProtocolError):
    """Some change of an all-or-nothing batch was refused; nothing was written."""

    def __init__(self, rejected: list[dict[str, Any]]) -> None:
        super().__init__(ErrorCode.INVALID_REQUEST, "The batch was refused; nothing was written.")
        self.rejected = rejected


def office_batch(
    workspace_id: str,
    user_id: str | None,
    changes: list[tuple[str, str, dict[str, Any]]],
    *,
    now_ms: int,
    source: str,
    inside: Callable[[Database, str], None] | None = None,
) -> ApplyResult:
    """Write ``(type, id, values)`` changes as office edits in one transaction, all or none.

    Every field is based on its current stamp (the office means to write it now). Any rejected
    change raises ``BatchRefused`` and rolls everything back; so does an error in ``inside``,
    which runs in the same transaction (with the batch's stamp) to record what was done.
    """
    db = bound_db()
    with database_errors(), write_transaction(db):
        state = read_state(db, workspace_id, lock=True)
        stamp = str(state.clock(now_ms).tick())
        rows = load_rows(db, workspace_id, (rid for _t, rid, _v in changes))
        batch = Batch(
            workspace_id, Author(user_id, None, state.node_id), source, db_time(db, now_ms),
            strict_base=True, now_ms=now_ms,
        )  # fmt: skip
        work = []
        for index, (record_type, record_id, values) in enumerate(changes):
            row = rows.get(record_id)
            stamps = row.stamps if row is not None else {}
            writes = {
                name: Incoming(value, stamp, stamps.get(name)) for name, value in values.items()
            }
            work.append(Change.of(index, record_type, record_id, writes))
        apply_changes(db, state, batch, work)
        if batch.rejected or batch.conflicts:
            raise BatchRefused([r.to_json() for r in batch.rejected])
        state.last_stamp = max(stamp, state.last_stamp)
        write_state(db, state)
        if inside is not None:
            inside(db, stamp)
        return ApplyResult(applied=batch.applied, unchanged=batch.unchanged, stamp=stamp)


def delete_values() -> dict[str, Any]:
    """The values of a change that deletes a record."""
    return {DELETED: True}
