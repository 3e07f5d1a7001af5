"""The one place the field client creates and binds a database: the device's SQLite file."""

from __future__ import annotations

import os
from pathlib import Path

from peewee import SqliteDatabase

from field_client import checkpoint

__all__ = ["DB_FILE", "DeviceDatabase", "open_database"]

DB_FILE = "fieldsync.db"

PRAGMAS = {
    # 16 KiB pages for a new home (an existing one keeps its page size): a record row is about
    # 2 KB, and a pull or push writes thousands of them; bigger pages mean a quarter of the
    # WAL frames (a write call each) and of the b-tree pages to balance. Measured: applying
    # 10,000 pulled records 180 -> 150 ms of CPU, building and acknowledging 10,000 pushed
    # 200 -> 155 ms; a single local edit costs about 0.04 ms more. Set before journal_mode:
    # a database in WAL mode cannot change its page size.
    "page_size": 16_384,
    "journal_mode": "wal",
    "busy_timeout": 5_000,
    "foreign_keys": 1,
    "synchronous": "normal",  # with WAL: a killed process never corrupts or loses a commit
    "cache_size": -4_000,  # 4 MB: the page cache is the one thing that grows with the data
    # The writer checkpoints itself only past this; before, field_client.checkpoint does it on
    # a thread of its own (its docstring says why, with the numbers).
    "wal_autocheckpoint": checkpoint.FALLBACK_FRAMES,
    "journal_size_limit": checkpoint.RESTING_BYTES,
}


class DeviceDatabase(SqliteDatabase):
    """The device's SQLite database; its WAL is checkpointed off the writing thread."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path), pragmas=PRAGMAS, timeout=5)
        self.checkpointer = checkpoint.for_file(path)

    def commit(self) -> None:
        super().commit()
        self.checkpointer.committed()

    def close(self) -> bool:
        """Close this thread's connection; return when no checkpoint of this file runs."""
        try:
            return bool(super().close())
        finally:
            self.checkpointer.wait()


def open_database(home: Path) -> DeviceDatabase:
    """Create (and connect) the SQLite database of a device home.

    The home and a new database file are made readable by their owner only: the database holds
    names and phone numbers (SQLite gives its -wal and -shm files the database's mode).
    """
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = home / DB_FILE
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    db = DeviceDatabase(path)
    db.connect(reuse_if_open=True)
    return db
