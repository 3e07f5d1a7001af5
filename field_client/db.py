"""The one place the field client creates and binds a database: the device's SQLite file."""

from __future__ import annotations

from pathlib import Path

from peewee import SqliteDatabase

__all__ = ["DB_FILE", "open_database"]

DB_FILE = "fieldsync.db"

PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 5_000,
    "foreign_keys": 1,
    "synchronous": "normal",  # with WAL: a killed process never corrupts or loses a commit
    "cache_size": -4_000,  # 4 MB: the page cache is the one thing that grows with the data
}


def open_database(home: Path) -> SqliteDatabase:
    """Create (and connect) the SQLite database of a device home."""
    home.mkdir(parents=True, exist_ok=True)
    db = SqliteDatabase(str(home / DB_FILE), pragmas=PRAGMAS, timeout=5)
    db.connect(reuse_if_open=True)
    return db
