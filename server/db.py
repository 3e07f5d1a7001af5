"""The one place a database is created and bound (SQLite file or PostgreSQL over psycopg 3).

Models are bound to ``database``, a proxy that entry points initialise with ``open_database``.
"""

from __future__ import annotations

import os
import sqlite3
import time
import weakref
from typing import Any
from urllib.parse import unquote, urlparse

from peewee import (
    Database,
    DatabaseProxy,
    OperationalError,
    PeeweeException,
    PostgresqlDatabase,
    SqliteDatabase,
)
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase
from psycopg.pq import TransactionStatus

database = DatabaseProxy()

# The driver's errors that mean "the database is unavailable" (busy, locked, gone away): the
# store wraps them in ``server.errors.Unavailable``, the app's error handlers too.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (OperationalError,)
# Every error a database may raise (the CLI turns any of them into one line).
DATABASE_ERRORS: tuple[type[Exception], ...] = (PeeweeException, sqlite3.Error)

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 10_000,
    "foreign_keys": 1,
    "synchronous": "normal",  # with WAL: durable at checkpoint, never corrupt
    # 8 MiB of page cache per connection: the hot index pages fit; the OS caches the rest, and
    # the server stays within its memory budget.
    "cache_size": -8_000,
    # Checkpoint every ~40 MB of WAL rather than 4 MB: pages rewritten by consecutive pushes
    # (index pages) are copied back once, and a push rarely pays for a checkpoint.
    "wal_autocheckpoint": 10_000,
    "journal_size_limit": 64 * 1024 * 1024,
}


class DatabaseUrlError(ValueError):
    """A database URL this server cannot use."""


# Connections are pooled: ``close()`` at the end of a request hands the connection back instead
# of closing it. Closing the last SQLite connection checkpoints and removes the WAL (tens of ms
# per request) and empties the page cache; a PostgreSQL connection costs milliseconds to open.
POOL = {"max_connections": 32, "stale_timeout": 300}


class PrivateSqliteDatabase(PooledSqliteDatabase):
    """A pooled SQLite database whose file, when a connection creates it, only its owner reads
    (SQLite gives the -wal and -shm files the same mode)."""

    def _connect(self) -> Any:
        path = self.database
        if path != ":memory:" and not path.startswith("file:"):
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass
        return super()._connect()


class PostgresqlPool(PooledPostgresqlDatabase):
    """peewee's pooled PostgreSQL database, without a round trip on every checkout.

    peewee checks each connection it takes from the pool with ``SELECT 1``: one round trip per
    request (a pull page, a push), about a tenth of the statements of an incremental sync. Here
    a connection that came back from a request less than ``RECHECK_AFTER_S`` ago is taken on
    its local state (open, no transaction left); one that sat idle longer, when PostgreSQL or
    the network may have dropped it meanwhile, is still checked. Should one break unseen in
    between, the request's first statement fails as "unavailable" (503, which a device
    retries) and the connection is not put back.
    """

    RECHECK_AFTER_S = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._returned_at: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    def _is_closed(self, conn: Any) -> bool:
        returned = self._returned_at.pop(conn, None)
        if (
            returned is not None
            and time.monotonic() - returned < self.RECHECK_AFTER_S
            and not conn.closed
            and conn.pgconn.transaction_status == TransactionStatus.IDLE
        ):
            return False
        return bool(super()._is_closed(conn))

    def _close(self, conn: Any, close_conn: bool = False) -> None:
        with self._pool_lock:  # held by peewee's _connect, which calls _is_closed
            self._returned_at[conn] = time.monotonic()
            super()._close(conn, close_conn)


def make_database(url: str) -> Database:
    """Create (but do not connect) a database from ``sqlite:///path`` or ``postgresql://...``."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        if url.startswith("sqlite:////"):
            path = "/" + path.lstrip("/")
        elif url.startswith("sqlite:///"):
            path = path[1:] if path.startswith("/") else path
        if not path or path == "/":
            raise DatabaseUrlError("an sqlite URL needs a file path: sqlite:///path/to/file.db")
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        # check_same_thread=False: a pooled connection serves one thread at a time, not always
        # the same one (the threaded server starts a thread per request).
        return PrivateSqliteDatabase(
            path,
            pragmas=SQLITE_PRAGMAS,
            check_same_thread=False,
            **POOL,  # type: ignore[arg-type]
        )
    if parsed.scheme in ("postgres", "postgresql"):
        return PostgresqlPool(
            unquote(parsed.path.lstrip("/")) or "postgres",
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 5432,
            prefer_psycopg3=True,
            autoconnect=True,
            **POOL,  # type: ignore[arg-type]
        )
    raise DatabaseUrlError(
        f"unsupported database URL scheme {parsed.scheme!r}: use sqlite:/// or postgresql://"
    )


def sqlite_file(url: str) -> str | None:
    """The file (or ``:memory:``) of an SQLite database URL; None for PostgreSQL."""
    db = make_database(url)
    return str(db.database) if isinstance(db, SqliteDatabase) else None


def open_plain_sqlite(path: str | os.PathLike[str]) -> Database:
    """An SQLite database on a file, without the server's pragmas or pool (maintenance work on
    a copy: no WAL files appear beside it)."""
    return SqliteDatabase(str(path))


def open_database(url: str) -> Database:
    """Create a database from its URL and bind every model to it."""
    db = make_database(url)
    database.initialize(db)
    return db


def is_postgres(db: Database | DatabaseProxy | None = None) -> bool:
    """Whether the (bound) database is PostgreSQL."""
    target = db if db is not None else database
    if isinstance(target, DatabaseProxy):
        target = target.obj
    return isinstance(target, PostgresqlDatabase)


def write_transaction(db: Database | DatabaseProxy | None = None):  # type: ignore[no-untyped-def]
    """Open a write transaction that takes the write lock up front on SQLite (BEGIN IMMEDIATE)."""
    target = db if db is not None else database
    if isinstance(target, DatabaseProxy):
        target = target.obj
    if isinstance(target, SqliteDatabase):
        return target.atomic("IMMEDIATE")
    return target.atomic()
