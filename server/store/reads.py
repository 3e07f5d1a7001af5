"""Pull (PROTOCOL.md section 6) and reading single records and their history."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, TypeVar

from server.store.sql import (
    bound_db,
    database_errors,
    iso_utc,
    loads,
    read_state,
    reading,
    sql_for,
)
from sync import (
    DELETED,
    MAX_PULL_LIMIT,
    ErrorCode,
    ProtocolError,
    decode_cursor,
    encode_cursor,
)

_T = TypeVar("_T")

# -- pull ---------------------------------------------------------------------------------------

_COLUMNS = (
    "SELECT id, type, fields, stamps, deleted, seq, created_by, created_at, updated_by,"
    ' updated_at FROM "record"'
)
# The last column says the row is the pulling device's own write that it holds (no echo).
_PULL_SQL = (
    "SELECT id, type, fields, stamps, deleted, seq, created_by, created_at, updated_by,"
    " updated_at, (updated_device = ? AND echo_after <= ?)"
    ' FROM "record" WHERE workspace_id = ? AND seq > ? ORDER BY seq LIMIT ?'
)


_FETCH = 500  # rows fetched from the cursor at a time: a page is never held twice as rows


def _pull_page(
    workspace_id: str,
    cursor: str | None,
    limit: int,
    now_ms: int,
    render: Callable[[tuple[Any, ...]], _T],
    device_id: str | None = None,
) -> tuple[list[_T], dict[str, Any]]:
    """Read one page, rendering each row as it is fetched; return items and the envelope.

    Rows that are ``device_id``'s own writes it holds are read (they count towards ``limit``
    and move the cursor) but not rendered (docs/protocol.md section 6, "No echo").
    """
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PULL_LIMIT:
        raise ProtocolError(
            ErrorCode.INVALID_REQUEST,
            f"limit must be between 1 and {MAX_PULL_LIMIT}.",
            errors={"limit": [f"must be between 1 and {MAX_PULL_LIMIT}"]},
        )
    epoch, after = decode_cursor(cursor) if cursor else (None, 0)
    db = bound_db()
    items: list[_T] = []
    seqs = [after, after]  # the seqs of the last two rows read
    with database_errors():
        # One statement is one snapshot: a page never shows half of a push. The state is read
        # after it, so server_time covers every stamp on the page.
        rows = db.execute_sql(
            sql_for(db, _PULL_SQL), (device_id, after, workspace_id, after, limit + 1)
        )
        read = 0
        while chunk := rows.fetchmany(_FETCH):
            read += len(chunk)
            if read > limit:  # the extra row only says "more"
                chunk = chunk[: limit - read]
            items += [render(r) for r in chunk if not r[10]]
            seqs = [*seqs, *(int(r[5]) for r in chunk[-2:])][-2:]
        state = read_state(db, workspace_id, lock=False)
    if epoch is not None and epoch != state.epoch:
        raise ProtocolError(
            ErrorCode.RESYNC_REQUIRED,
            "The server's data was restored or replaced; pull from the start and push again.",
        )
    more = read > limit
    envelope = {
        "cursor": encode_cursor(state.epoch, seqs[1]),
        "more": more,
        "server_time": reading(state, now_ms),
    }
    return items, envelope


def pull(
    workspace_id: str,
    cursor: str | None,
    limit: int,
    *,
    now_ms: int,
    device_id: str | None = None,
) -> dict[str, Any]:
    """Return one pull page of PROTOCOL.md section 6 as a dict (records in change order).

    ``cursor`` None starts at the beginning. With ``device_id`` the page leaves out that
    device's own writes that it holds (section 6, "No echo"). Raises ``ProtocolError``:
    ``invalid_request`` (bad cursor or limit outside 1..5000), ``resync_required`` (cursor
    from another epoch).
    For the HTTP view prefer ``pull_json``: same body, already serialised, much cheaper.
    """
    records, envelope = _pull_page(
        workspace_id, cursor, limit, now_ms, lambda row: _wire(workspace_id, row), device_id
    )
    return {"records": records, **envelope}


def pull_json(
    workspace_id: str,
    cursor: str | None,
    limit: int,
    *,
    now_ms: int,
    device_id: str | None = None,
) -> bytes:
    """Return the same body as ``pull`` as UTF-8 JSON bytes, built without re-parsing records.

    Records' fields and stamps are stored as compact JSON text, so each record is spliced in
    as text. Send it as ``application/json`` unchanged. Raises as ``pull`` does.
    """
    ws = json.dumps(workspace_id)

    def render(r: tuple[Any, ...]) -> bytes:
        return (
            f'{{"type":"{r[1]}","id":"{r[0]}","fields":{r[2]},"stamps":{r[3]},'
            f'"deleted":{"true" if r[4] else "false"},"meta":{{"workspace_id":{ws},'
            f'"created_by":{_jstr(r[6])},"created_at":{_jtime(r[7])},'
            f'"updated_by":{_jstr(r[8])},"updated_at":{_jtime(r[9])},"seq":{r[5]}}}}}'
        ).encode()

    records, envelope = _pull_page(workspace_id, cursor, limit, now_ms, render, device_id)
    tail = json.dumps(envelope, ensure_ascii=False)[1:].encode()
    return b'{"records":[' + b",".join(records) + b"]," + tail


# Cached: a page's authors and times repeat (one user, one time per pushed batch).
@functools.lru_cache(maxsize=1024)
def _jstr(value: str | None) -> str:
    return "null" if value is None else json.dumps(value)


@functools.lru_cache(maxsize=1024)
def _jtime(value: Any) -> str:
    return _jstr(iso_utc(value))


def _wire(workspace_id: str, row: tuple[Any, ...]) -> dict[str, Any]:
    """A record's wire form from a ``_COLUMNS``-shaped row."""
    return {
        "type": row[1],
        "id": row[0],
        "fields": loads(row[2]),
        "stamps": loads(row[3]),
        "deleted": bool(row[4]),
        "meta": {
            "workspace_id": workspace_id,
            "created_by": row[6],
            "created_at": iso_utc(row[7]),
            "updated_by": row[8],
            "updated_at": iso_utc(row[9]),
            "seq": int(row[5]),
        },
    }


# -- reading single records ---------------------------------------------------------------------


def get_record(workspace_id: str, record_id: str) -> dict[str, Any] | None:
    """Return one record of the workspace in wire form (tombstones too), or None."""
    db = bound_db()
    sql = _COLUMNS + " WHERE workspace_id = ? AND id = ?"
    with database_errors():
        row = db.execute_sql(sql_for(db, sql), (workspace_id, record_id)).fetchone()
    return None if row is None else _wire(workspace_id, row)


def record_history(workspace_id: str, record_id: str) -> list[dict[str, Any]]:
    """Return a record's audit history, oldest first.

    Each item: ``{seq, at, user_id, device_id, source, diff}`` where ``diff`` maps field ->
    ``[old value, new value, stamp]``; ``device_id`` is None for office edits; ``source`` is
    ``push``, ``office`` or ``conflict_resolution``. The creation's ``diff`` is rebuilt from the
    record (see ``with_creation``).
    """
    db = bound_db()
    sql = (
        'SELECT seq, at, user_id, device_id, source, diff FROM "change"'
        " WHERE workspace_id = ? AND record_id = ? ORDER BY seq"
    )
    with database_errors():
        rows = db.execute_sql(sql_for(db, sql), (workspace_id, record_id)).fetchall()
    entries = [
        {"seq": int(r[0]), "at": iso_utc(r[1]), "user_id": r[2], "device_id": r[3],
         "source": r[4], "diff": loads(r[5])}
        for r in rows
    ]  # fmt: skip
    return with_creation(workspace_id, record_id, entries)


def with_creation(
    workspace_id: str, record_id: str, entries: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Fill in what a new record held in its creation entry (``entries`` oldest first).

    A new record's audit row stores no copy of its fields (``{}``): the record is the copy. Its
    values at creation are the record's current ones, rolled back through the old values of
    the later entries, newest first; a field that was empty at creation is left out. A stamp
    is shown only where the field has not changed since.
    """
    created = [e for e in entries if not e["diff"] and e["source"] != "reveal"]
    if not created:
        return entries
    record = get_record(workspace_id, record_id)
    if record is None:
        return entries
    held: dict[str, Any] = {**record["fields"], DELETED: record["deleted"]}
    stamps: dict[str, str | None] = dict(record["stamps"])
    for entry in reversed(entries):
        diff = entry["diff"]
        if entry["source"] == "reveal":
            continue
        if not diff:
            entry["diff"] = {
                name: [None, held.get(name), stamps.get(name)]
                for name in record["stamps"]
                if held.get(name) not in (None, False)
            }
            continue
        for name, change in diff.items():
            if isinstance(change, list) and change:
                held[name] = change[0]
                stamps[name] = None
    return entries


def list_entries(workspace_id: str) -> dict[str, dict[str, Any]]:
    """Return id -> {fields, stamps} of the workspace's live list entries (``choice`` records)."""
    db = bound_db()
    sql = (
        'SELECT id, fields, stamps FROM "record" WHERE workspace_id = ? AND type = ?'
        " AND NOT deleted"
    )
    with database_errors():
        rows = db.execute_sql(sql_for(db, sql), (workspace_id, "choice")).fetchall()
    return {r[0]: {"fields": loads(r[1]), "stamps": loads(r[2])} for r in rows}
