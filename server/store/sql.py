"""Raw SQL on the bound database (SQLite or PostgreSQL), and the state rows: the server's
epoch and node (``server_state``), each workspace's change sequence and office clock
(``workspace_state``).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import operator
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import psycopg
from peewee import Database, DatabaseError
from psycopg.pq import PipelineStatus, TransactionStatus

from server.db import database, is_postgres
from server.errors import Unavailable
from server.models import ALL_MODELS
from sync import (
    Clock,
    ErrorCode,
    ProtocolError,
    Stamp,
    jsonio,
)

# -- low-level helpers: raw SQL on the bound database (SQLite or PostgreSQL) -------------------

dumps = jsonio.dumps  # compact, Chinese kept readable (orjson; the stdlib's results)
loads = json.loads


def dump_stamps(stamps: dict[str, str]) -> str:
    """Encode field -> stamp quickly: only strings, so orjson alone (no NaN check) writes what
    ``dumps`` would."""
    return orjson.dumps(stamps).decode()


def dump_checked(fields: dict[str, Any]) -> str:
    """Encode a record's fields, checked by their rules (no NaN nor infinity, no integer
    beyond 64 bits): what ``dumps`` writes, without its look for NaN behind every null, nor
    its two calls (10,000 visits' fields: 8 against 14 ms)."""
    try:
        return orjson.dumps(fields).decode()
    except orjson.JSONEncodeError:  # (a lone surrogate: ``dumps`` says how it is written)
        return dumps(fields)


def load_stored(text: str) -> Any:
    """Decode JSON text the store wrote itself from checked values (a record's fields and
    stamps: no NaN, no integer beyond 64 bits), so orjson alone reads what ``loads`` would, in
    less than half the time (23 against 60 ms for 10,000 visits' fields and stamps)."""
    return orjson.loads(text)


def bound_db() -> Database:
    target = database.obj
    if target is None:
        raise ProtocolError(ErrorCode.UNAVAILABLE, "The server has no database configured.")
    return target  # type: ignore[no-any-return]


def sql_for(db: Database, text: str) -> str:
    """Write queries with ``?`` placeholders; PostgreSQL's driver wants ``%s``."""
    return text if db.param == "?" else text.replace("?", db.param)


def ids_clause(db: Database, column: str, ids: Iterable[str]) -> tuple[str, Any]:
    """Return a one-parameter ``column IN ids`` condition (no statement-size limit).

    On PostgreSQL the ids go as a binary text array (``%b``): psycopg packs it in C, where a
    text-format array is quoted and escaped item by item in Python (0.7 ms for 500 ids). On
    SQLite they go as one JSON array, written by orjson (``dumps``): 30 against 110 us for the
    1,000 ids of a push batch with the stdlib's encoder."""
    if is_postgres(db):
        return f"{column} = ANY(%b::text[])", list(ids)
    return f"{column} IN (SELECT value FROM json_each(?))", dumps(list(ids))


def insert_rows(
    db: Database, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], suffix: str = ""
) -> int:
    """Insert rows in bulk and return how many the database wrote: one prepared statement run
    for every row on SQLite (its C loop; a 1,000-row VALUES list would be compiled anew each
    time), one ``INSERT ... SELECT FROM unnest(...)`` on PostgreSQL (see ``_unnest_insert``).
    ``suffix`` (``ON CONFLICT ...``) follows the statement on both."""
    cursor = send_rows(db, table, columns, rows, suffix)
    return 0 if cursor is None else int(cursor.rowcount)


def send_rows(
    db: Database, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], suffix: str = ""
) -> Any:
    """Insert rows in bulk as ``insert_rows`` does, and return the statement's cursor (None
    without rows): inside ``pipelined`` on PostgreSQL the statement is only sent, and the
    cursor's ``rowcount`` (the rows written) is known once the pipeline has ended."""
    if not rows:
        return None
    names = ", ".join(columns)
    if is_postgres(db):
        return _unnest_insert(db, table, names, columns, rows, suffix)
    return _sqlite_insert(db, table, names, rows, suffix)


def _sqlite_insert(
    db: Database, table: str, names: str, rows: list[tuple[Any, ...]], suffix: str
) -> Any:
    """Insert rows on SQLite: one prepared statement run for every row (``executemany``).

    A column that holds one value in every row (the workspace, the author, the time of a
    push: 11 of the 15 columns of a push's new records) is written into the statement as a
    literal (``_literal``) rather than bound again for every row: the driver converts and
    binds each parameter of each row, about 1 of the 8 ms SQLite takes for 1,000 new
    records. The statement's text then changes from push to push (its time), and is compiled
    once for all its rows.
    """
    keep, picks = [], []
    first, last = rows[0], rows[-1]
    for index, value in enumerate(first):
        literal = None
        # (a column whose first and last values differ is not read whole: the record's id,
        # fields, stamps and number, whose values are the longest to compare)
        if len(rows) > 1 and last[index] == value:
            values = list(map(operator.itemgetter(index), rows))
            if values.count(value) == len(values) and (
                # 1 == True == 1.0: equal numbers must be of one type too (equal text is text)
                not isinstance(value, int | float) or len(set(map(type, values))) == 1
            ):
                literal = _literal(value)
        picks.append("?" if literal is None else literal)
        if literal is None:
            keep.append(index)
    if len(keep) == len(picks):
        params = rows
    elif not keep:  # the rows are all the same: bound as they are
        picks, params = ["?"] * len(picks), rows
    else:
        pick = operator.itemgetter(*keep)
        params = list(map(pick, rows)) if len(keep) > 1 else [(pick(r),) for r in rows]
    one = "(" + ", ".join(picks) + ")"
    return executemany(db, f'INSERT INTO "{table}" ({names}) VALUES {one}{suffix}', params)


def _literal(value: Any) -> str | None:
    """``value`` as an SQLite literal, for the types whose literal reads back the same value
    (text without a NUL character, integers of 64 bits, booleans as 0 and 1, NULL); None
    for any other value, which is bound as a parameter instead."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value) if -(2**63) <= value < 2**63 else None
    if isinstance(value, str) and "\x00" not in value:
        return "'" + value.replace("'", "''") + "'"
    return None


def _unnest_insert(
    db: Database,
    table: str,
    names: str,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    suffix: str,
) -> Any:
    """Insert rows on PostgreSQL as one array per column, in one statement.

    Fast because the statement has one parameter per column whatever the number of rows: its
    text is the same for every batch of the same kind, so psycopg splits its placeholders once
    (it caches query texts; a multi-row ``VALUES`` list of 30,000 placeholders was split by a
    Python regex on every call) and prepares it on the server after a few runs, and the
    arrays travel in PostgreSQL's binary format (``%b``: no quoting or escaping of the JSON
    text). A column that holds one value in every row (the workspace, the author, the time of
    a push: 11 of the 15 columns of a push's new records) goes as that one value instead:
    psycopg packs an array item by item in Python (about 2 ms per 10,000 items), and the
    server unpacks it.
    Safe because ``unnest`` of equally long arrays yields the rows in order, each value cast
    to its column's type as a ``VALUES`` list would be (NULLs included), and an ``ON
    CONFLICT`` suffix and the written-row count work as for any ``INSERT ... SELECT``.
    """
    types = _column_types(table)
    picks, singles, aliases, arrays, params = [], [], [], [], []
    for index, (name, values) in enumerate(zip(columns, zip(*rows, strict=True), strict=True)):
        # the first column always goes as an array: it gives ``unnest`` the number of rows
        if index and values.count(values[0]) == len(values):
            picks.append(f"%b::{types[name]}")
            singles.append(values[0])
        else:
            picks.append(f"c{index}")
            aliases.append(f"c{index}")
            arrays.append(f"%b::{types[name]}[]")
            params.append(list(values))
    sql = (
        f'INSERT INTO "{table}" ({names}) SELECT {", ".join(picks)}'
        f" FROM unnest({', '.join(arrays)}) AS u({', '.join(aliases)}){suffix}"
    )
    return db.execute_sql(sql, [*singles, *params])


# PostgreSQL's type for the array of each kind of peewee column (``_unnest_insert``).
_ARRAY_TYPES = {
    "VARCHAR": "text",
    "TEXT": "text",
    "BOOL": "boolean",
    "INT": "integer",
    "BIGINT": "bigint",
    "DATETIME": "timestamp",
}


@functools.cache
def _column_types(table: str) -> dict[str, str]:
    """Return column -> element type of a table's arrays, from its model."""
    model = next(m for m in ALL_MODELS if m._meta.table_name == table)
    return {
        f.column_name: _ARRAY_TYPES[f.field_type]
        for f in model._meta.sorted_fields
        if f.field_type in _ARRAY_TYPES
    }


def executemany(db: Database, sql: str, rows: list[tuple[Any, ...]]) -> Any:
    """Run one statement for many parameter rows, on the connection of the current thread;
    return the cursor (its ``rowcount``: the rows written)."""
    cursor = db.cursor()
    cursor.executemany(sql, rows)
    return cursor


def db_time(db: Database, now_ms: int) -> Any:
    """Return ``now_ms`` as the database stores a DateTimeField (naive UTC)."""
    moment = dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=now_ms)
    return moment if is_postgres(db) else str(moment)


def iso_utc(value: Any) -> str | None:
    """Render a stored time (text on SQLite, datetime on PostgreSQL) as ISO 8601 UTC."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat() + "Z"
    return f"{value[:10]}T{value[11:]}Z"


F = TypeVar("F", bound=Callable[..., Any])


def tuples(query: Any) -> list[tuple[Any, ...]]:
    """The rows of a peewee query as tuples (its type hints call them model instances)."""
    return list(query.tuples())


def guarded(function: F) -> F:
    """Run a store function inside ``database_errors``."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with database_errors():
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@contextmanager
def database_errors() -> Iterator[None]:
    """Wrap database failures (locked, gone away) in ``Unavailable``: the one place they are.
    SQLite's bulk inserts run on the driver's cursor (``executemany``), whose errors peewee
    does not wrap."""
    try:
        yield
    except (DatabaseError, sqlite3.Error) as exc:
        raise Unavailable(exc) from exc


@contextmanager
def pipelined(db: Database) -> Iterator[None]:
    """Send the statements run inside to PostgreSQL without waiting for each one's answer (a
    round trip for all of them; psycopg's pipeline mode). A read still works but waits there
    for everything sent so far (one round trip), and a written-row count is not known until
    the end. Inside another ``pipelined`` it ends with a round trip for what was sent, and
    the outer one goes on. A failed statement raises ``Unavailable`` at the end, as
    ``database_errors`` says the driver's errors, and a transaction it left failed (its
    ROLLBACK was skipped with the statements after the failure) is rolled back once the
    outermost one ends. On SQLite (no round trips) the statements simply run."""
    if not is_postgres(db):
        yield
        return
    connection = db.connection()
    try:
        with connection.pipeline():
            yield
    except psycopg.Error as exc:
        raise Unavailable(exc) from exc
    finally:
        if (
            connection.pgconn.pipeline_status == PipelineStatus.OFF
            and connection.info.transaction_status == TransactionStatus.INERROR
        ):
            connection.rollback()


# -- state: the epoch and node of the server, the sequence and office clock of a workspace ------


@dataclass(slots=True)
class State:
    """The server's epoch and node id (``server_state``, one row) and one workspace's change
    sequence and office clock (``workspace_state``, one row per workspace)."""

    epoch: str
    node_id: str
    seq: int
    last_stamp: str
    workspace_id: str | None = None

    def clock(self, now_ms: int) -> Clock:
        return Clock(lambda: now_ms, self.node_id, self.last_stamp or None)


_NOT_INITIALISED = "The database is not initialised; run `fieldsync-server db upgrade`."
_LOCK_SQL = (
    "SELECT s.epoch, s.node_id, w.seq, w.last_stamp FROM workspace_state w"
    " JOIN server_state s ON s.id = 1 WHERE w.workspace_id = ?"
)
# Reads the state without locking it (``read_state``, a pull page); ``state_of`` its row.
READ_STATE_SQL = (
    "SELECT s.epoch, s.node_id, w.seq, w.last_stamp FROM server_state s"
    " LEFT JOIN workspace_state w ON w.workspace_id = ? WHERE s.id = 1"
)


def read_state(db: Database, workspace_id: str, *, lock: bool) -> State:
    """Read the server's and the workspace's state.

    With ``lock`` it is the first statement of a write: it locks the workspace's counter row
    (``FOR UPDATE`` on PostgreSQL; on SQLite ``BEGIN IMMEDIATE`` already holds the one write
    lock), creating the row first for a workspace that has none yet. Writes of other
    workspaces do not wait for it.
    """
    if not lock:
        row = db.execute_sql(sql_for(db, READ_STATE_SQL), (workspace_id,)).fetchone()
        return state_of(row, workspace_id)
    state = locked_state(send_lock(db, workspace_id), workspace_id)
    if state is None:  # the workspace's first write: make its row, then lock it
        db.execute_sql(
            sql_for(
                db,
                "INSERT INTO workspace_state (workspace_id, seq, last_stamp) VALUES (?, 0, '')"
                " ON CONFLICT (workspace_id) DO NOTHING",
            ),
            (workspace_id,),
        )
        state = locked_state(send_lock(db, workspace_id), workspace_id)
        if state is None:
            raise ProtocolError(ErrorCode.UNAVAILABLE, _NOT_INITIALISED)
    return state


def send_lock(db: Database, workspace_id: str) -> Any:
    """Send the statement that locks the workspace's state row and reads it (``read_state``);
    return its cursor, for ``locked_state``. Inside ``pipelined`` the statements sent after it
    travel with it, and run once it holds the lock."""
    sql = sql_for(db, _LOCK_SQL) + (" FOR UPDATE OF w" if is_postgres(db) else "")
    return db.execute_sql(sql, (workspace_id,))


def locked_state(cursor: Any, workspace_id: str) -> State | None:
    """The state ``send_lock`` read, or None when the workspace has no state row yet."""
    row = cursor.fetchone()
    if row is None:
        return None
    return State(row[0], row[1], int(row[2]), row[3] or "", workspace_id)


def state_of(row: tuple[Any, ...] | None, workspace_id: str) -> State:
    """The state from a ``READ_STATE_SQL`` row."""
    if row is None:
        raise ProtocolError(ErrorCode.UNAVAILABLE, _NOT_INITIALISED)
    return State(row[0], row[1], int(row[2] or 0), row[3] or "", workspace_id)


def write_state(db: Database, state: State) -> None:
    """Store the workspace's sequence and office clock (inside the transaction that locked it)."""
    db.execute_sql(
        sql_for(db, "UPDATE workspace_state SET seq = ?, last_stamp = ? WHERE workspace_id = ?"),
        (state.seq, state.last_stamp, state.workspace_id),
    )


def reading(state: State, now_ms: int) -> str:
    """A server_time stamp at or after every stamp the server holds (nothing is persisted)."""
    last = Stamp.parse(state.last_stamp) if state.last_stamp else Stamp(0, 0, state.node_id)
    return str(
        max(Stamp(now_ms, 0, state.node_id), Stamp(last.wall_ms, last.counter, state.node_id))
    )


def server_time(*, now_ms: int, workspace_id: str | None = None) -> str:
    """Return a stamp for a response's ``server_time``: at or after every stamp the workspace
    holds, or (without one) every stamp of every workspace."""
    db = bound_db()
    with database_errors():
        if workspace_id is not None:
            return reading(read_state(db, workspace_id, lock=False), now_ms)
        row = db.execute_sql(
            "SELECT s.epoch, s.node_id, (SELECT max(last_stamp) FROM workspace_state)"
            " FROM server_state s WHERE s.id = 1"
        ).fetchone()
        if row is None:
            raise ProtocolError(ErrorCode.UNAVAILABLE, _NOT_INITIALISED)
        return reading(State(row[0], row[1], 0, row[2] or ""), now_ms)
