"""The record store: applies pushes and office edits in one transaction each, serves pulls.

It knows peewee, not HTTP. Whole-request errors are raised as ``sync.ProtocolError`` (the API
layer renders them); per-change problems are values in the result (rejections, conflicts).

Public interface (called by ``server.api``, ``server.services``, the office UI)::

    push(device, body, *, now_ms, max_skew_ms) -> dict              PROTOCOL.md section 5 body
    pull(workspace_id, cursor, limit, *, now_ms) -> dict            section 6 body
    pull_json(workspace_id, cursor, limit, *, now_ms) -> bytes      same body, serialised (fast)
    office_edit(workspace_id, user_id, record_type, record_id, values, bases, *, now_ms)
        -> ApplyResult
    resolve_conflict(workspace_id, conflict_id, user_id, value, *, now_ms) -> ApplyResult
    get_record(workspace_id, record_id) -> dict | None              wire form
    record_history(workspace_id, record_id) -> list[dict]
    server_time(*, now_ms) -> str                                   a stamp for any response

Every write transaction first locks the ``ServerState`` row, then reads, then assigns change
sequence numbers from it, so sequence numbers become visible in commit order (docs/protocol.md).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from peewee import Database, DatabaseError

from server.db import database, is_postgres, write_transaction
from server.models import Device
from sync import (
    DELETED,
    MAX_PULL_LIMIT,
    RECORD_TYPES,
    Change,
    Clock,
    Current,
    Decision,
    ErrorCode,
    Incoming,
    InvalidStamp,
    Outcome,
    ProtocolError,
    PushRequest,
    RecordType,
    Rejection,
    Stamp,
    decide,
    decode_cursor,
    encode_cursor,
    parse_push,
    validate_fields,
)

__all__ = [
    "ApplyResult",
    "Author",
    "get_record",
    "office_edit",
    "pull",
    "pull_json",
    "push",
    "record_history",
    "resolve_conflict",
    "server_time",
]


@dataclass(frozen=True, slots=True)
class Author:
    """Who writes: the user, the device (None for the office) and the node id of the stamps."""

    user_id: str | None
    device_id: str | None
    node_id: str


@dataclass(slots=True)
class ApplyResult:
    """What an office edit did: counts, conflicts and rejections as in a push response.

    ``conflicts`` items are ``{id, type, record_id, field, kept: {value, stamp}, other: {...}}``;
    ``rejected`` items are ``{index, type, id, errors: {field: [message]}}`` (index is 0).
    ``record`` is the record's wire form after the edit (None when rejected), ``stamp`` the
    stamp given to the edited fields.
    """

    applied: int = 0
    unchanged: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    record: dict[str, Any] | None = None
    stamp: str | None = None

    @property
    def ok(self) -> bool:
        """Whether nothing was rejected."""
        return not self.rejected


# -- low-level helpers: raw SQL on the bound database (SQLite or PostgreSQL) -------------------

_RECORD_COLUMNS = (
    "id, workspace_id, type, fields, stamps, deleted, seq, "
    "created_by, created_at, updated_by, updated_at"
)
_UPSERT_COLUMNS = (
    "id", "workspace_id", "type", "fields", "stamps", "deleted", "seq",
    "created_at", "created_by", "updated_at", "updated_by", "updated_device",
)  # fmt: skip
_UPSERT_SUFFIX = (
    " ON CONFLICT (id) DO UPDATE SET fields = excluded.fields, stamps = excluded.stamps,"
    " deleted = excluded.deleted, seq = excluded.seq, updated_at = excluded.updated_at,"
    " updated_by = excluded.updated_by, updated_device = excluded.updated_device"
)
_CHANGE_COLUMNS = (
    "workspace_id", "record_id", "record_type", "seq", "at", "user_id", "device_id", "source",
    "diff",
)  # fmt: skip
_CONFLICT_COLUMNS = (
    "id", "workspace_id", "record_id", "record_type", "field",
    "kept_value", "kept_stamp", "kept_user", "kept_device",
    "other_value", "other_stamp", "other_user", "other_device", "status", "created_at",
)  # fmt: skip
_MAX_PARAMS = 30_000  # below SQLite's 32,766 and PostgreSQL's 65,535 bound parameters

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_loads = json.loads


def _dump_stamps(stamps: dict[str, str]) -> str:
    """Encode field -> stamp quickly: names were checked against the record type's rules (or
    come from the database) and stamps are canonical, so neither needs escaping."""
    return "{" + ",".join([f'"{name}":"{stamp}"' for name, stamp in stamps.items()]) + "}"


def _db() -> Database:
    target = database.obj
    if target is None:
        raise ProtocolError(ErrorCode.UNAVAILABLE, "The server has no database configured.")
    return target  # type: ignore[no-any-return]


def _sql(db: Database, text: str) -> str:
    """Write queries with ``?`` placeholders; PostgreSQL's driver wants ``%s``."""
    return text if db.param == "?" else text.replace("?", db.param)


def _ids_clause(db: Database, column: str, ids: Iterable[str]) -> tuple[str, Any]:
    """Return a one-parameter ``column IN ids`` condition (no statement-size limit)."""
    if is_postgres(db):
        return f"{column} = ANY(%s)", list(ids)
    return f"{column} IN (SELECT value FROM json_each(?))", json.dumps(list(ids))


def _insert_rows(
    db: Database, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], suffix: str = ""
) -> None:
    """Insert rows with multi-row VALUES statements (one statement per ~30,000 parameters)."""
    if not rows:
        return
    names = ", ".join(columns)
    one = "(" + ", ".join([db.param] * len(columns)) + ")"
    step = max(1, _MAX_PARAMS // len(columns))
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        sql = f'INSERT INTO "{table}" ({names}) VALUES ' + ", ".join([one] * len(chunk)) + suffix
        db.execute_sql(sql, [value for row in chunk for value in row])


def _timestamp(db: Database, now_ms: int) -> Any:
    """Return ``now_ms`` as the database stores a DateTimeField (naive UTC)."""
    moment = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=now_ms)
    return moment if is_postgres(db) else str(moment)


def _iso(value: Any) -> str | None:
    """Render a stored time (text on SQLite, datetime on PostgreSQL) as ISO 8601 UTC."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat() + "Z"
    return f"{value[:10]}T{value[11:]}Z"


@contextmanager
def _database_errors() -> Iterator[None]:
    """Translate database failures (locked, gone away) into the protocol's ``unavailable``."""
    try:
        yield
    except DatabaseError as exc:
        raise ProtocolError(
            ErrorCode.UNAVAILABLE, "The database is busy or unavailable; try again shortly."
        ) from exc


# -- server state: epoch, node, change sequence, office clock ----------------------------------


@dataclass(slots=True)
class _State:
    epoch: str
    node_id: str
    seq: int
    last_stamp: str

    def clock(self, now_ms: int) -> Clock:
        return Clock(lambda: now_ms, self.node_id, self.last_stamp or None)


def _read_state(db: Database, *, lock: bool) -> _State:
    """Read the ServerState row; with ``lock`` it is the first statement of a write."""
    sql = "SELECT epoch, node_id, seq, last_stamp FROM server_state WHERE id = 1"
    if lock and is_postgres(db):
        sql += " FOR UPDATE"
    row = db.execute_sql(sql).fetchone()
    if row is None:
        raise ProtocolError(
            ErrorCode.UNAVAILABLE,
            "The database is not initialised; run `fieldsync-server db upgrade`.",
        )
    return _State(row[0], row[1], int(row[2]), row[3] or "")


def _write_state(db: Database, state: _State) -> None:
    db.execute_sql(
        _sql(db, "UPDATE server_state SET seq = ?, last_stamp = ? WHERE id = 1"),
        (state.seq, state.last_stamp),
    )


def _reading(state: _State, now_ms: int) -> str:
    """A server_time stamp at or after every stamp the server holds (nothing is persisted)."""
    last = Stamp.parse(state.last_stamp) if state.last_stamp else Stamp(0, 0, state.node_id)
    return str(
        max(Stamp(now_ms, 0, state.node_id), Stamp(last.wall_ms, last.counter, state.node_id))
    )


def server_time(*, now_ms: int) -> str:
    """Return a stamp for a response's ``server_time`` (at or after every stamp held)."""
    with _database_errors():
        return _reading(_read_state(_db(), lock=False), now_ms)


# -- records as read for a write ---------------------------------------------------------------


@dataclass(slots=True)
class _Row:
    id: str
    workspace_id: str
    type: str
    fields: dict[str, Any]
    stamps: dict[str, str]
    deleted: bool
    created_by: str | None
    created_at: Any
    updated: tuple[Any, Any, Any]  # updated_at, updated_by, updated_device


def _load_rows(db: Database, ids: Iterable[str]) -> dict[str, _Row]:
    """Read the records with these ids, in any workspace, in one query."""
    ids = list(ids)
    if not ids:
        return {}
    clause, param = _ids_clause(db, "id", ids)
    cursor = db.execute_sql(
        "SELECT id, workspace_id, type, fields, stamps, deleted, created_by, created_at,"
        f' updated_at, updated_by, updated_device FROM "record" WHERE {clause}',
        (param,),
    )
    return {
        r[0]: _Row(r[0], r[1], r[2], _loads(r[3]), _loads(r[4]), bool(r[5]), r[6], r[7], r[8:11])
        for r in cursor.fetchall()
    }


def _foreign_ids(db: Database, workspace_id: str, ids: set[str]) -> set[str]:
    """Return those of ``ids`` that are records of another workspace (one query)."""
    if not ids:
        return set()
    clause, param = _ids_clause(db, "id", ids)
    cursor = db.execute_sql(
        _sql(db, f'SELECT id FROM "record" WHERE {clause} AND workspace_id <> ?'),
        (param, workspace_id),
    )
    return {r[0] for r in cursor.fetchall()}


def _refs_of(rtype: RecordType, writes: dict[str, Incoming]) -> dict[str, set[str]]:
    """Return field -> referenced ids of one change."""
    refs: dict[str, set[str]] = {}
    for name in rtype.refs.intersection(writes):
        value = writes[name].value
        if isinstance(value, str):
            refs[name] = {value}
        elif isinstance(value, list):
            refs[name] = {v for v in value if isinstance(v, str)}
    return refs


# -- the engine shared by push and office edits -------------------------------------------------


@dataclass(slots=True)
class _Batch:
    """What one transaction applies: computed in memory, then written in a few statements."""

    workspace_id: str
    author: Author
    source: str
    now: Any
    strict_base: bool  # office edits: a stale base conflicts even against the server's own node
    applied: int = 0
    unchanged: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    records: list[tuple[Any, ...]] = field(default_factory=list)
    changes: list[tuple[Any, ...]] = field(default_factory=list)
    conflict_rows: list[list[Any]] = field(default_factory=list)
    current_nodes: set[str] = field(default_factory=set)


def _decide(batch: _Batch, current: Current | None, incoming: Incoming) -> Decision:
    decision = decide(current, incoming)
    if (
        batch.strict_base
        and decision.outcome is Outcome.FAST_FORWARD
        and current is not None
        and current.stamp != incoming.base
    ):
        # The office shares one node, so "same node" does not mean "the same person saw it".
        greater = incoming.stamp > current.stamp
        if current.value == incoming.value:
            return Decision(Outcome.CONCURRENT_EQUAL, incoming_greater=greater)
        kept = Outcome.CONCURRENT_REPLACED if greater else Outcome.CONCURRENT_KEPT
        return Decision(kept, greater)
    return decision


def _check_change(
    change: Change, row: _Row | None, batch: _Batch, foreign: set[str], from_office: bool
) -> dict[str, list[str]]:
    """Return field -> messages for a change that may not be applied (empty when fine)."""
    if row is not None and row.workspace_id != batch.workspace_id:
        return {"id": ["this record belongs to another workspace (forbidden)"]}
    if row is not None and row.type != change.type:
        return {"type": [f"record {change.id} is a {row.type}, not a {change.type}"]}
    rtype = RECORD_TYPES[change.type]
    values = {name: w.value for name, w in change.writes.items()}
    present = () if row is None else row.fields.keys()
    errors = validate_fields(
        rtype, values, is_new=row is None, from_office=from_office, present=present
    )
    for name, ids in _refs_of(rtype, change.writes).items():
        if ids & foreign:
            errors.setdefault(name, []).append(
                "refers to a record of another workspace (forbidden)"
            )
    return errors


def _apply_change(batch: _Batch, state: _State, change: Change, row: _Row | None) -> None:
    """Decide every field of one checked change and queue its writes."""
    if row is None:  # a new record: every write fast-forwards (bases were checked in parsing)
        _apply_new(batch, state, change)
        return
    fields, stamps, deleted = row.fields, row.stamps, row.deleted
    decisions: list[tuple[str, Incoming, Current | None, Decision]] = []
    for name, incoming in change.writes.items():
        stamp = stamps.get(name)
        if stamp is None:
            current = None
        else:
            current = Current(deleted if name == DELETED else fields.get(name), stamp)
        decision = _decide(batch, current, incoming)
        if decision.outcome is Outcome.MALFORMED:
            errors = {name: ["stamp must sort after its base"]}
            batch.rejected.append(Rejection(change.index, change.type, change.id, errors))
            return
        decisions.append((name, incoming, current, decision))
    diff: dict[str, list[Any]] = {}
    lost = False  # an incoming write lost to the held one: the writer must pull the winner
    for name, incoming, current, decision in decisions:
        if decision.outcome.is_conflict:
            assert current is not None
            _queue_conflict(batch, change, name, current, incoming, decision.takes_incoming)
        if not decision.takes_incoming:
            lost = lost or decision.outcome in _LOSING
            continue
        diff[name] = [None if current is None else current.value, incoming.value, incoming.stamp]
        stamps[name] = incoming.stamp
        if name == DELETED:
            deleted = bool(incoming.value)
        else:
            fields[name] = incoming.value
    if diff:
        batch.applied += 1
        _queue_write(batch, state, change, row, fields, stamps, deleted, diff)
    else:
        batch.unchanged += 1
        if lost:  # re-sequence the unchanged record so the writer's next pull brings it
            _queue_write(batch, state, change, row, fields, stamps, deleted, None)


_LOSING = frozenset({Outcome.CONCURRENT_KEPT, Outcome.CONCURRENT_EQUAL})


def _apply_new(batch: _Batch, state: _State, change: Change) -> None:
    fields: dict[str, Any] = {}
    stamps: dict[str, str] = {}
    diff: dict[str, list[Any]] = {}
    deleted = False
    for name, incoming in change.writes.items():
        stamps[name] = incoming.stamp
        diff[name] = [None, incoming.value, incoming.stamp]
        if name == DELETED:
            deleted = bool(incoming.value)
        else:
            fields[name] = incoming.value
    batch.applied += 1
    _queue_write(batch, state, change, None, fields, stamps, deleted, diff)


def _queue_write(
    batch: _Batch,
    state: _State,
    change: Change,
    row: _Row | None,
    fields: dict[str, Any],
    stamps: dict[str, str],
    deleted: bool,
    diff: dict[str, list[Any]] | None,
) -> None:
    """Queue the record's new state under the next sequence number, and its audit row."""
    state.seq += 1
    author, now = batch.author, batch.now
    if row is None:
        created: tuple[Any, Any] = (now, author.user_id)
    else:
        created = (row.created_at, row.created_by)
    updated = (now, author.user_id, author.device_id) if diff else row.updated  # type: ignore[union-attr]
    batch.records.append((
        change.id, batch.workspace_id, change.type, _dumps(fields), _dump_stamps(stamps), deleted,
        state.seq, *created, *updated,
    ))  # fmt: skip
    if diff:
        batch.changes.append((
            batch.workspace_id, change.id, change.type, state.seq, now, author.user_id,
            author.device_id, batch.source, _dumps(diff),
        ))  # fmt: skip


def _queue_conflict(
    batch: _Batch, change: Change, name: str, current: Current, incoming: Incoming, took: bool
) -> None:
    conflict_id = str(uuid.uuid4())
    mine = {"value": incoming.value, "stamp": incoming.stamp}
    theirs = {"value": current.value, "stamp": current.stamp}
    kept, other = (mine, theirs) if took else (theirs, mine)
    batch.conflicts.append({
        "id": conflict_id, "type": change.type, "record_id": change.id, "field": name,
        "kept": kept, "other": other,
    })  # fmt: skip
    current_node = Stamp.node_of(current.stamp)
    batch.current_nodes.add(current_node)
    author = batch.author
    mine_who: list[Any] = [author.user_id, author.device_id]
    theirs_who: list[Any] = [None, current_node]  # the user is filled in from Device below
    kept_who, other_who = (mine_who, theirs_who) if took else (theirs_who, mine_who)
    batch.conflict_rows.append([
        conflict_id, batch.workspace_id, change.id, change.type, name,
        _dumps(kept["value"]), kept["stamp"], *kept_who,
        _dumps(other["value"]), other["stamp"], *other_who, "open", batch.now,
    ])  # fmt: skip


def _run(db: Database, state: _State, batch: _Batch, changes: list[Change]) -> None:
    """Check, decide and write a list of changes (inside a locked write transaction)."""
    rows = _load_rows(db, (c.id for c in changes))
    refs: set[str] = set()
    for change in changes:
        for ids in _refs_of(RECORD_TYPES[change.type], change.writes).values():
            refs |= ids
    foreign = _foreign_ids(db, batch.workspace_id, refs)
    from_office = batch.author.device_id is None
    seen: set[str] = set()
    for change in changes:
        if change.id in seen:
            errors = {"id": ["appears twice in batch"]}
        else:
            seen.add(change.id)
            errors = _check_change(change, rows.get(change.id), batch, foreign, from_office)
        if errors:
            batch.rejected.append(Rejection(change.index, change.type, change.id, errors))
        else:
            _apply_change(batch, state, change, rows.get(change.id))
    _insert_rows(db, "record", _UPSERT_COLUMNS, batch.records, _UPSERT_SUFFIX)
    _insert_rows(db, "change", _CHANGE_COLUMNS, batch.changes)
    _insert_conflicts(db, batch)


def _insert_conflicts(db: Database, batch: _Batch) -> None:
    if not batch.conflict_rows:
        return
    users: dict[str, str] = {}
    devices = batch.current_nodes - {None}
    if devices:
        clause, param = _ids_clause(db, "id", devices)
        cursor = db.execute_sql(f"SELECT id, user_id FROM device WHERE {clause}", (param,))
        users = dict(cursor.fetchall())
    for row in batch.conflict_rows:
        for user_at, device_at in ((7, 8), (11, 12)):
            if row[user_at] is None and row[device_at] is not None:
                if row[device_at] in users:
                    row[user_at] = users[row[device_at]]
                else:  # the server's own node: an office edit, no device
                    row[device_at] = None
    _insert_rows(db, "conflict", _CONFLICT_COLUMNS, [tuple(r) for r in batch.conflict_rows])


# -- push ---------------------------------------------------------------------------------------


def push(device: Device, body: dict[str, Any], *, now_ms: int, max_skew_ms: int) -> dict[str, Any]:
    """Apply one push from ``device`` in one transaction and return the response body.

    ``body`` is the decoded JSON of PROTOCOL.md section 5. Raises ``ProtocolError`` for a
    whole-request error, with nothing applied: ``invalid_request`` (envelope),
    ``payload_too_large``, ``forbidden`` (a stamp names another node than the device),
    ``clock_skew`` (a stamp or device_time more than ``max_skew_ms`` ahead of ``now_ms``;
    ``extra["server_time"]``), ``unavailable`` (database busy). A repeated ``batch_id`` of the
    same device returns the stored response with ``"replayed": true`` and changes nothing.
    The response is ``{batch_id, applied, unchanged, conflicts, rejected, server_time}``.
    """
    request = parse_push(body)
    foreign_nodes = request.nodes() - {device.id}
    if foreign_nodes:
        raise ProtocolError(
            ErrorCode.FORBIDDEN,
            "The push carries stamps of another node; a device may only write in its own name.",
        )
    newest = request.max_stamp()
    if newest is not None and Stamp.wall_of(newest) > now_ms + max_skew_ms:
        raise ProtocolError(
            ErrorCode.CLOCK_SKEW,
            "The device clock is ahead of the server clock; fix the clock and sync again.",
            extra={"server_time": server_time(now_ms=now_ms)},
        )
    db = _db()
    with _database_errors(), write_transaction(db):
        state = _read_state(db, lock=True)
        stored = db.execute_sql(
            _sql(db, "SELECT response FROM push_batch WHERE device_id = ? AND batch_id = ?"),
            (device.id, request.batch_id),
        ).fetchone()
        if stored is not None:
            return {**_loads(stored[0]), "replayed": True}
        response = _push_in_transaction(db, state, device, request, now_ms)
    return response


def _push_in_transaction(
    db: Database, state: _State, device: Device, request: PushRequest, now_ms: int
) -> dict[str, Any]:
    now = _timestamp(db, now_ms)
    author = Author(device.user_id, device.id, device.id)
    batch = _Batch(device.workspace_id, author, "push", now, strict_base=False)
    _run(db, state, batch, request.changes)
    clock = state.clock(now_ms)
    newest = request.max_stamp()
    state.last_stamp = str(clock.observe(newest) if newest else clock.tick())
    _write_state(db, state)
    rejected = sorted([*request.rejected, *batch.rejected], key=lambda r: r.index)
    response = {
        "batch_id": request.batch_id,
        "applied": batch.applied,
        "unchanged": batch.unchanged,
        "conflicts": batch.conflicts,
        "rejected": [r.to_json() for r in rejected],
        "server_time": state.last_stamp,
    }
    db.execute_sql(_sql(db, "UPDATE device SET last_push_at = ? WHERE id = ?"), (now, device.id))
    _insert_rows(
        db, "push_batch", ("device_id", "batch_id", "response", "created_at"),
        [(device.id, request.batch_id, _dumps(response), now)],
    )  # fmt: skip
    return response


# -- pull ---------------------------------------------------------------------------------------

_PULL_SQL = (
    "SELECT id, type, fields, stamps, deleted, seq, created_by, created_at, updated_by,"
    ' updated_at FROM "record" WHERE workspace_id = ? AND seq > ? ORDER BY seq LIMIT ?'
)


def _pull_page(
    workspace_id: str, cursor: str | None, limit: int, now_ms: int
) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    """Read one page: rows, and the envelope (cursor, more, server_time) around them."""
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PULL_LIMIT:
        raise ProtocolError(
            ErrorCode.INVALID_REQUEST,
            f"limit must be between 1 and {MAX_PULL_LIMIT}.",
            errors={"limit": [f"must be between 1 and {MAX_PULL_LIMIT}"]},
        )
    epoch, after = decode_cursor(cursor) if cursor else (None, 0)
    db = _db()
    with _database_errors():
        # One statement is one snapshot: a page never shows half of a push. The state is read
        # after it, so server_time covers every stamp on the page.
        rows = db.execute_sql(_sql(db, _PULL_SQL), (workspace_id, after, limit + 1)).fetchall()
        state = _read_state(db, lock=False)
    if epoch is not None and epoch != state.epoch:
        raise ProtocolError(
            ErrorCode.RESYNC_REQUIRED,
            "The server's data was restored or replaced; pull from the start and push again.",
        )
    more = len(rows) > limit
    if more:
        del rows[limit:]
    last = rows[-1][5] if rows else after
    envelope = {
        "cursor": encode_cursor(state.epoch, int(last)),
        "more": more,
        "server_time": _reading(state, now_ms),
    }
    return rows, envelope


def pull(workspace_id: str, cursor: str | None, limit: int, *, now_ms: int) -> dict[str, Any]:
    """Return one pull page of PROTOCOL.md section 6 as a dict (records in change order).

    ``cursor`` None starts at the beginning. Raises ``ProtocolError``: ``invalid_request`` (bad
    cursor or limit outside 1..5000), ``resync_required`` (cursor from another epoch).
    For the HTTP view prefer ``pull_json``: same body, already serialised, much cheaper.
    """
    rows, envelope = _pull_page(workspace_id, cursor, limit, now_ms)
    return {"records": [_wire(workspace_id, row) for row in rows], **envelope}


def pull_json(workspace_id: str, cursor: str | None, limit: int, *, now_ms: int) -> bytes:
    """Return the same body as ``pull`` as UTF-8 JSON bytes, built without re-parsing records.

    Records' fields and stamps are stored as compact JSON text, so each record is spliced in
    as text. Send it as ``application/json`` unchanged. Raises as ``pull`` does.
    """
    rows, envelope = _pull_page(workspace_id, cursor, limit, now_ms)
    ws = json.dumps(workspace_id)
    parts = [
        f'{{"type":"{r[1]}","id":"{r[0]}","fields":{r[2]},"stamps":{r[3]},'
        f'"deleted":{"true" if r[4] else "false"},"meta":{{"workspace_id":{ws},'
        f'"created_by":{_jstr(r[6])},"created_at":{_jstr(_iso(r[7]))},'
        f'"updated_by":{_jstr(r[8])},"updated_at":{_jstr(_iso(r[9]))},"seq":{r[5]}}}}}'
        for r in rows
    ]
    tail = json.dumps(envelope, ensure_ascii=False)[1:]
    return ('{"records":[' + ",".join(parts) + "]," + tail).encode()


def _jstr(value: str | None) -> str:
    return "null" if value is None else json.dumps(value)


def _wire(workspace_id: str, row: tuple[Any, ...]) -> dict[str, Any]:
    """A record's wire form from a ``_PULL_SQL``-shaped row."""
    return {
        "type": row[1],
        "id": row[0],
        "fields": _loads(row[2]),
        "stamps": _loads(row[3]),
        "deleted": bool(row[4]),
        "meta": {
            "workspace_id": workspace_id,
            "created_by": row[6],
            "created_at": _iso(row[7]),
            "updated_by": row[8],
            "updated_at": _iso(row[9]),
            "seq": int(row[5]),
        },
    }


# -- reading single records ---------------------------------------------------------------------


def get_record(workspace_id: str, record_id: str) -> dict[str, Any] | None:
    """Return one record of the workspace in wire form (tombstones too), or None."""
    db = _db()
    sql = _PULL_SQL.split(" WHERE ")[0] + " WHERE workspace_id = ? AND id = ?"
    with _database_errors():
        row = db.execute_sql(_sql(db, sql), (workspace_id, record_id)).fetchone()
    return None if row is None else _wire(workspace_id, row)


def record_history(workspace_id: str, record_id: str) -> list[dict[str, Any]]:
    """Return a record's audit history, oldest first.

    Each item: ``{seq, at, user_id, device_id, source, diff}`` where ``diff`` maps field ->
    ``[old value, new value, stamp]``; ``device_id`` is None for office edits; ``source`` is
    ``push``, ``office`` or ``conflict_resolution``.
    """
    db = _db()
    sql = (
        'SELECT seq, at, user_id, device_id, source, diff FROM "change"'
        " WHERE workspace_id = ? AND record_id = ? ORDER BY seq"
    )
    with _database_errors():
        rows = db.execute_sql(_sql(db, sql), (workspace_id, record_id)).fetchall()
    return [
        {"seq": int(r[0]), "at": _iso(r[1]), "user_id": r[2], "device_id": r[3],
         "source": r[4], "diff": _loads(r[5])}
        for r in rows
    ]  # fmt: skip


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
    db = _db()
    with _database_errors(), write_transaction(db):
        state = _read_state(db, lock=True)
        return _office_in_transaction(
            db, state, workspace_id, user_id, record_type, record_id, values, bases,
            now_ms=now_ms, source="office",
        )  # fmt: skip


def _office_in_transaction(
    db: Database,
    state: _State,
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
    batch = _Batch(workspace_id, author, source, _timestamp(db, now_ms), strict_base=True)
    _run(db, state, batch, [Change(0, record_type, record_id, writes)])
    state.last_stamp = stamp
    _write_state(db, state)
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
    db = _db()
    with _database_errors(), write_transaction(db):
        state = _read_state(db, lock=True)
        row = db.execute_sql(
            _sql(db, 'SELECT record_id, record_type, field, status FROM "conflict"'
                 " WHERE id = ? AND workspace_id = ?"),
            (conflict_id, workspace_id),
        ).fetchone()  # fmt: skip
        if row is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, "No such conflict in this workspace.")
        record_id, record_type, name, status = row
        if status != "open":
            raise ProtocolError(ErrorCode.CONFLICT, "This conflict is already resolved.")
        current = _load_rows(db, [record_id]).get(record_id)
        base = None if current is None else current.stamps.get(name)
        result = _office_in_transaction(
            db, state, workspace_id, user_id, record_type, record_id, {name: value},
            {name: base}, now_ms=now_ms, source="conflict_resolution",
        )  # fmt: skip
        if result.ok:
            db.execute_sql(
                _sql(db, 'UPDATE "conflict" SET status = ?, resolved_by = ?, resolved_at = ?,'
                     " resolution_stamp = ? WHERE workspace_id = ? AND record_id = ?"
                     " AND field = ? AND status = ?"),
                ("resolved", user_id, _timestamp(db, now_ms), result.stamp, workspace_id,
                 record_id, name, "open"),
            )  # fmt: skip
        return result
