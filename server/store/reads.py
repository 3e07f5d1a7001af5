"""Pull (PROTOCOL.md section 6) and reading single records and their history."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from typing import Any, TypeVar

from peewee import Database

from server.db import is_postgres
from server.errors import Unavailable
from server.store.sql import (
    READ_STATE_SQL,
    State,
    bound_db,
    database_errors,
    iso_utc,
    loads,
    pipelined,
    read_state,
    reading,
    sql_for,
    state_of,
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

_FIELDS = "id, type, fields, stamps, deleted, seq, created_by, created_at, updated_by, updated_at"
_COLUMNS = f'SELECT {_FIELDS} FROM "record"'

# A page holds the rows to deliver of one sequence range, (cursor, cursor + _SCAN * limit], in
# change order, ``limit + 1`` at most (the extra row only says "more"). Rows left out (no echo,
# docs/protocol.md section 6: records whose every change is the pulling device's own,
# ``echo_after = 0``) are skipped by the statement itself: they neither count towards the limit
# nor reach Python. The range bounds the work of one request: sequence numbers are unique
# within a workspace, so a page reads at most ``_SCAN * limit`` rows, however many of them are
# left out. Measured on this 2-core machine: a left-out row costs the statement about 1 us
# (SQLite, fresh rows read from the WAL; PostgreSQL about the same), a delivered one several
# times that to render, send and apply; so 20 pages' worth of left-out rows cost about what a
# few full pages do, and a device's first sync after recording 10,000 visits passes its own
# records in one request (it took 11 when they counted towards the limit).
_SCAN = 20
_MAX_SEQ = 2**63 - 1  # a cursor's number is below 2^63 (section 11): the range stays a BIGINT
_PAGE = (
    ' FROM "record" WHERE workspace_id = ? AND seq > ? AND seq <= ?'
    " AND (updated_device = ? AND echo_after = 0) IS NOT TRUE ORDER BY seq LIMIT ?"
)
_PULL_SQL = f"SELECT {_FIELDS}{_PAGE}"
# On PostgreSQL the page's statement also returns, as its first row (every other column NULL),
# the workspace's counter as the statement's snapshot holds it (``_counter_first``).
_COUNTER = "(SELECT seq FROM workspace_state WHERE workspace_id = ?)"
_PULL_SQL_POSTGRES = (
    f"(SELECT NULL, NULL, NULL, NULL, NULL, {_COUNTER}, NULL, NULL, NULL, NULL)"
    f" UNION ALL ({_PULL_SQL})"
)


_FETCH = 500  # rows fetched from the cursor at a time: a page is never held twice as rows

# The wire form of one record (as ``_wire`` makes it), rendered by the database itself as UTF-8
# bytes, for ``pull_json``: Python then only joins a page's records, so pulling costs the server
# no per-record Python work (parsing, formatting, encoding the text). It is safe to splice:
# fields and stamps are stored as the compact JSON the store wrote; type and id are spliced
# bare, as they always were (the store only writes known types and checked ids); every other
# string is JSON-quoted by the database (json_quote, to_json: quotes, backslashes and control
# characters escaped); times are rendered exactly as ``iso_utc`` renders them on that database.
# The one parameter is the workspace id as JSON.
_RECORD_JSON_SQLITE = (
    "CAST(printf('"
    '{"type":"%s","id":"%s","fields":%s,"stamps":%s,"deleted":%s,"meta":{"workspace_id":%s,'
    '"created_by":%s,"created_at":%s,"updated_by":%s,"updated_at":%s,"seq":%d}}'
    "', type, id, fields, stamps, CASE WHEN deleted THEN 'true' ELSE 'false' END, ?,"
    " json_quote(created_by),"
    " json_quote(substr(created_at, 1, 10) || 'T' || substr(created_at, 12) || 'Z'),"
    " json_quote(updated_by),"
    " json_quote(substr(updated_at, 1, 10) || 'T' || substr(updated_at, 12) || 'Z'),"
    " seq) AS BLOB)"
)


def _pg_time(column: str) -> str:
    # As Python's isoformat: the microseconds only when there are some (a time's only '.' is
    # the one before them).
    return (
        f"""coalesce('"' || replace(to_char({column}, 'YYYY-MM-DD"T"HH24:MI:SS.US'), '.000000',"""
        """ '') || 'Z"', 'null')"""
    )


_RECORD_JSON_POSTGRES = (
    "convert_to(concat("
    """'{"type":"', type, '","id":"', id, '","fields":', fields, ',"stamps":', stamps,"""
    """ ',"deleted":', CASE WHEN deleted THEN 'true' ELSE 'false' END,"""
    """ ',"meta":{"workspace_id":', ?::text,"""
    """ ',"created_by":', coalesce(to_json(created_by)::text, 'null'),"""
    f""" ',"created_at":', {_pg_time("created_at")},"""
    """ ',"updated_by":', coalesce(to_json(updated_by)::text, 'null'),"""
    f""" ',"updated_at":', {_pg_time("updated_at")},"""
    """ ',"seq":', seq, '}}'), 'UTF8')"""
)
_PULL_JSON_SQL = "SELECT {record}, seq" + _PAGE
_PULL_JSON_SQLITE = _PULL_JSON_SQL.format(record=_RECORD_JSON_SQLITE)
_PULL_JSON_POSTGRES = (
    f"(SELECT NULL, {_COUNTER}) UNION ALL ({_PULL_JSON_SQL.format(record=_RECORD_JSON_POSTGRES)})"
)


def _pull_page(
    workspace_id: str,
    cursor: str | None,
    limit: int,
    now_ms: int,
    read: Callable[[Database, int, int], tuple[Any, State]],
    render: Callable[[tuple[Any, ...]], _T],
    seq_at: int,
) -> tuple[list[_T], dict[str, Any]]:
    """Read one page, rendering each row as it is fetched; return items and the envelope.

    ``read(db, after, high)`` runs the page's one statement: up to ``limit + 1`` rows to
    deliver with seq in ``(after, high]``, in change order, each with its seq in column
    ``seq_at`` (rows left out by "No echo" are not among them, docs/protocol.md section 6);
    then it reads the workspace's state (after the page, so server_time covers every stamp on
    it) and returns both, the state's ``seq`` being the workspace's counter as the page's
    snapshot holds it.

    The cursor moves to the last row delivered when the page is full; otherwise the page has
    passed every row of its range that the snapshot holds, delivered or left out, and the cursor
    moves to the end of the range or to the counter, whichever is lower: no change committed
    later can get a number at or below the counter (section 10), so none is skipped.
    """
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PULL_LIMIT:
        raise ProtocolError(
            ErrorCode.INVALID_REQUEST,
            f"limit must be between 1 and {MAX_PULL_LIMIT}.",
            errors={"limit": [f"must be between 1 and {MAX_PULL_LIMIT}"]},
        )
    epoch, after = decode_cursor(cursor) if cursor else (None, 0)
    high = min(after + _SCAN * limit, _MAX_SEQ)
    db = bound_db()
    items: list[_T] = []
    last = after  # the seq of the last row delivered (within the limit)
    with database_errors(), _one_snapshot(db):
        rows, state = read(db, after, high)
        count = 0
        while chunk := rows.fetchmany(_FETCH):
            count += len(chunk)
            if count > limit:  # the extra row only says "more"
                chunk = chunk[: limit - count]
            if chunk:
                last = int(chunk[-1][seq_at])
            items += map(render, chunk)
    if epoch is not None and epoch != state.epoch:
        raise ProtocolError(
            ErrorCode.RESYNC_REQUIRED,
            "The server's data was restored or replaced; pull from the start and push again.",
        )
    full = count > limit
    if not full:
        last = max(last, min(high, state.seq))
    envelope = {
        "cursor": encode_cursor(state.epoch, last),
        "more": full or high < state.seq,
        "server_time": reading(state, now_ms),
    }
    return items, envelope


def _one_snapshot(db: Database) -> AbstractContextManager[Any]:
    """On SQLite, a read transaction: the page and the state after it are read in one snapshot
    (outside one, each statement that runs alone takes its own). On PostgreSQL each statement
    has its own snapshot whatever the transaction (read committed), so there the page's
    statement returns the counter itself (``_counter_first``)."""
    return nullcontext() if is_postgres(db) else db.atomic()


def _counter_first(rows: Any, state: State, seq_at: int) -> State:
    """The state with the workspace's counter from the first row of the page's statement on
    PostgreSQL (``_PULL_SQL_POSTGRES``: the counter as that statement's snapshot holds it, in
    the seq column; the state was read by a statement of its own, perhaps after a later
    commit). A UNION ALL run without parallel workers returns its parts in order; should it
    ever not, the page is refused (503, retried) rather than risk a cursor past a row it did not
    read."""
    first = rows.fetchone()
    if first is None or first[0] is not None:
        raise Unavailable(RuntimeError("the pull page did not start with the counter"))
    return replace(state, seq=int(first[seq_at] or 0))


def pull(
    workspace_id: str,
    cursor: str | None,
    limit: int,
    *,
    now_ms: int,
    device_id: str | None = None,
) -> dict[str, Any]:
    """Return one pull page of PROTOCOL.md section 6 as a dict (records in change order).

    ``cursor`` None starts at the beginning. With ``device_id`` the page leaves out the
    records that device alone wrote (section 6, "No echo"). Raises ``ProtocolError``:
    ``invalid_request`` (bad cursor or limit outside 1..5000), ``resync_required`` (cursor
    from another epoch).
    For the HTTP view prefer ``pull_json``: same body, already serialised, much cheaper.
    """

    def read(db: Database, after: int, high: int) -> tuple[Any, State]:
        params = (workspace_id, after, high, device_id, limit + 1)
        if is_postgres(db):
            rows = db.execute_sql(sql_for(db, _PULL_SQL_POSTGRES), (workspace_id, *params))
            return rows, _counter_first(rows, read_state(db, workspace_id, lock=False), 5)
        rows = db.execute_sql(_PULL_SQL, params)
        return rows, read_state(db, workspace_id, lock=False)

    def render(row: tuple[Any, ...]) -> dict[str, Any]:
        return _wire(workspace_id, row)

    records, envelope = _pull_page(workspace_id, cursor, limit, now_ms, read, render, seq_at=5)
    return {"records": records, **envelope}


def pull_json(
    workspace_id: str,
    cursor: str | None,
    limit: int,
    *,
    now_ms: int,
    device_id: str | None = None,
) -> bytes:
    """Return the same body as ``pull`` as UTF-8 JSON bytes, each record rendered by the database.

    Send it as ``application/json`` unchanged. Raises as ``pull`` does.
    """
    return pull_json_page(workspace_id, cursor, limit, now_ms=now_ms, device_id=device_id)[0]


def pull_json_page(
    workspace_id: str,
    cursor: str | None,
    limit: int,
    *,
    now_ms: int,
    device_id: str | None = None,
) -> tuple[bytes, str | None]:
    """Return ``pull_json``'s body and the cursor of the next page when the body says ``more``
    (else None), for the pull view to say in a header (docs/protocol.md section 6,
    ``Fieldsync-Next``). Raises as ``pull`` does.
    """

    def read(db: Database, after: int, high: int) -> tuple[Any, State]:
        params = (json.dumps(workspace_id), workspace_id, after, high, device_id, limit + 1)
        if is_postgres(db):
            sql = sql_for(db, _PULL_JSON_POSTGRES)
            rows, state = _select_binary(db, sql, (workspace_id, *params), workspace_id)
            return rows, _counter_first(rows, state, 1)
        rows = db.execute_sql(_PULL_JSON_SQLITE, params)
        return rows, read_state(db, workspace_id, lock=False)

    def render(row: tuple[Any, ...]) -> bytes:
        return row[0]  # type: ignore[no-any-return]

    records, envelope = _pull_page(workspace_id, cursor, limit, now_ms, read, render, seq_at=1)
    following = envelope["cursor"] if envelope["more"] else None
    head, tail = b'{"records":[', b"]," + json.dumps(envelope, ensure_ascii=False)[1:].encode()
    if not records:
        return head + tail, following
    # One join makes the body: the page is copied once, not once per piece added.
    records[0] = head + records[0]
    records[-1] += tail
    return b",".join(records), following


# A page is a range of the (workspace_id, seq) index, read in its order up to the limit. When
# PostgreSQL has no statistics for the rows (a new database, or a workspace filled since the
# last ANALYZE) it may expect a handful of them and plan a bitmap scan of every row after the
# cursor, then a sort: each page reads the whole rest of the workspace. Measured on a fresh
# database pulling 10,000 records in pages of 1,000: 150-220 ms in the database against 35-55
# ms walking the index. So the page's statement is planned without bitmap and sequential scans
# (for this transaction only). The transaction's statements go in one pipeline: a round trip
# for all of them, not one each.
_WALK_THE_INDEX = (
    "SELECT set_config('enable_bitmapscan', 'off', true),"
    " set_config('enable_seqscan', 'off', true)"
)


def _select_binary(
    db: Database, sql: str, params: tuple[Any, ...], workspace_id: str
) -> tuple[Any, State]:
    """Run a page's query on PostgreSQL, walking the index (``_WALK_THE_INDEX``), asking for
    results in binary format: a bytea column arrives as its raw bytes (in text format it is hex,
    twice the size, for both sides to convert); then read the workspace's state. The rows are
    all in the cursor when it returns. Runs its own transaction: call it outside one (as the
    pull view does)."""
    settings, page, state = db.cursor(), db.cursor(), db.cursor()
    # BEGIN and COMMIT as plain statements: psycopg's own transaction block would wait for the
    # server at each end of it. A failed statement's transaction is rolled back by ``pipelined``.
    with pipelined(db):
        settings.execute("BEGIN")
        settings.execute(_WALK_THE_INDEX)
        page.execute(sql, params, binary=True)
        state.execute(sql_for(db, READ_STATE_SQL), (workspace_id,))
        settings.execute("COMMIT")
    return page, state_of(state.fetchone(), workspace_id)


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


Creation = tuple[int, Any, "str | None", "str | None", str]  # seq, at, user, device, source


def _history_entry(creation: Creation) -> dict[str, Any]:
    seq, at, user_id, device_id, source = creation
    return {"seq": seq, "at": iso_utc(at), "user_id": user_id, "device_id": device_id,
            "source": source, "diff": {}}  # fmt: skip


def _record_and_creation(
    workspace_id: str, record_id: str
) -> tuple[dict[str, Any], Creation | None] | None:
    """Read a record in wire form and the creation entry it carries (``models.Record
    .created_seq``: its sequence number, time as stored, user, device and source), in one
    query; the entry is None when the creation is a row of the history (records created before
    version 11, or by an import). None when there is no such record."""
    db = bound_db()
    sql = f'SELECT {_FIELDS}, created_seq, created_device FROM "record"'
    sql += " WHERE workspace_id = ? AND id = ?"
    with database_errors():
        row = db.execute_sql(sql_for(db, sql), (workspace_id, record_id)).fetchone()
    if row is None:
        return None
    if row[10] is None:
        return _wire(workspace_id, row), None
    # a device's creation came in a push, the office's (no device) from an office edit
    device = row[11]
    return _wire(workspace_id, row), (
        int(row[10]),
        row[7],
        row[6],
        device,
        "office" if device is None else "push",
    )


def with_creation(
    workspace_id: str,
    record_id: str,
    entries: list[dict[str, Any]],
    entry: Callable[[Creation], dict[str, Any]] | None = _history_entry,
) -> list[dict[str, Any]]:
    """Put the creation entry first when the record carries it (made by ``entry``; None leaves
    it out), and fill in what the new record held in its creation entry (``entries`` oldest
    first). One read of the record serves both.

    A new record's creation entry stores no copy of its fields (``{}``): the record is the copy.
    Its values at creation are the record's current ones, rolled back through the old values of
    the later entries, newest first; a field that was empty at creation is left out. A stamp
    is shown only where the field has not changed since.
    """
    found = _record_and_creation(workspace_id, record_id)
    if found is None:
        return entries
    record, carried = found
    if entry is not None and carried is not None:
        entries.insert(0, entry(carried))
    held: dict[str, Any] = {**record["fields"], DELETED: record["deleted"]}
    stamps: dict[str, str | None] = dict(record["stamps"])
    for item in reversed(entries):
        diff = item["diff"]
        if item["source"] == "reveal":
            continue
        if not diff:
            item["diff"] = {
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
