"""The one place a database is created and bound (SQLite file or PostgreSQL over psycopg 3).

Models are bound to ``database``, a proxy that entry points initialise with ``open_database``.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlparse

from peewee import Database, DatabaseProxy, PostgresqlDatabase, SqliteDatabase

database = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 10_000,
    "foreign_keys": 1,
    "synchronous": "normal",  # with WAL: durable at checkpoint, never corrupt
    "cache_size": -32_000,
}


class DatabaseUrlError(ValueError):
    """A database URL this server cannot use."""


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
        return SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=10)
    if parsed.scheme in ("postgres", "postgresql"):
        return PostgresqlDatabase(
            unquote(parsed.path.lstrip("/")) or "postgres",
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 5432,
            prefer_psycopg3=True,
            autoconnect=True,
        )
    raise DatabaseUrlError(
        f"unsupported database URL scheme {parsed.scheme!r}: use sqlite:/// or postgresql://"
    )


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
