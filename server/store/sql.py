"""Raw SQL on the bound database (SQLite or PostgreSQL), and the ServerState row: epoch,
server node, change sequence and the office clock.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from peewee import Database, DatabaseError

from server.db import database, is_postgres
from server.errors import Unavailable
from sync import (
    Clock,
    ErrorCode,
    ProtocolError,
    Stamp,
    jsonio,
)

# -- low-level helpers: raw SQL on the bound database (SQLite or PostgreSQL) -------------------

_MAX_PARAMS = 30_000  # below SQLite's 32,766 and PostgreSQL's 65,535 bound parameters

dumps = jsonio.dumps  # compact, Chinese kept readable (orjson; the stdlib's results)
loads = json.loads


def dump_stamps(stamps: dict[str, str]) -> str:
    """Encode field -> stamp quickly: names were checked against the record type's rules (or
    come from the database) and stamps are canonical, so neither needs escaping."""
    return "{" + ",".join([f'"{name}":"{stamp}"' for name, stamp in stamps.items()]) + "}"


def bound_db() -> Database:
    target = database.obj
    if target is None:
        raise ProtocolError(ErrorCode.UNAVAILABLE, "The server has no database configured.")
    return target  # type: ignore[no-any-return]


def sql_for(db: Database, text: str) -> str:
    """Write queries with ``?`` placeholders; PostgreSQL's driver wants ``%s``."""
    return text if db.param == "?" else text.replace("?", db.param)


def ids_clause(db: Database, column: str, ids: Iterable[str]) -> tuple[str, Any]:
    """Return a one-parameter ``column IN ids`` condition (no statement-size limit)."""
    if is_postgres(db):
        return f"{column} = ANY(%s)", list(ids)
    return f"{column} IN (SELECT value FROM json_each(?))", json.dumps(list(ids))


def insert_rows(
    db: Database, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], suffix: str = ""
) -> None:
    """Insert rows in bulk: one prepared statement run for every row on SQLite (its C loop;
    a 1,000-row VALUES list would be compiled anew each time), multi-row VALUES statements
    of up to ~30,000 parameters on PostgreSQL (one round trip)."""
    if not rows:
        return
    names = ", ".join(columns)
    one = "(" + ", ".join([db.param] * len(columns)) + ")"
    if not is_postgres(db):
        executemany(db, f'INSERT INTO "{table}" ({names}) VALUES {one}{suffix}', rows)
        return
    step = max(1, _MAX_PARAMS // len(columns))
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        sql = f'INSERT INTO "{table}" ({names}) VALUES ' + ", ".join([one] * len(chunk)) + suffix
        db.execute_sql(sql, [value for row in chunk for value in row])


def executemany(db: Database, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """Run one statement for many parameter rows, on the connection of the current thread."""
    db.cursor().executemany(sql, rows)


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
    """Wrap database failures (locked, gone away) in ``Unavailable``: the one place they are."""
    try:
        yield
    except DatabaseError as exc:
        raise Unavailable(exc) from exc


# -- server state: epoch, node, change sequence, office clock ----------------------------------


@dataclass(slots=True)
class State:
    epoch: str
    node_id: str
    seq: int
    last_stamp: str

    def clock(self, now_ms: int) -> Clock:
        return Clock(lambda: now_ms, self.node_id, self.last_stamp or None)


def read_state(db: Database, *, lock: bool) -> State:
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
    return State(row[0], row[1], int(row[2]), row[3] or "")


def write_state(db: Database, state: State) -> None:
    db.execute_sql(
        sql_for(db, "UPDATE server_state SET seq = ?, last_stamp = ? WHERE id = 1"),
        (state.seq, state.last_stamp),
    )


def reading(state: State, now_ms: int) -> str:
    """A server_time stamp at or after every stamp the server holds (nothing is persisted)."""
    last = Stamp.parse(state.last_stamp) if state.last_stamp else Stamp(0, 0, state.node_id)
    return str(
        max(Stamp(now_ms, 0, state.node_id), Stamp(last.wall_ms, last.counter, state.node_id))
    )


def server_time(*, now_ms: int) -> str:
    """Return a stamp for a response's ``server_time`` (at or after every stamp held)."""
    with database_errors():
        return reading(read_state(bound_db(), lock=False), now_ms)
