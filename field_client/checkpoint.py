"""Checkpoints of the device database's WAL, run on a thread of their own instead of inside a
commit.

Why: a pull of 10,000 records writes about 19 MB to the WAL, so SQLite's automatic checkpoint
(every 1,000 pages) ran inside one pull page's commit: that commit took 60-110 ms of wall clock
(about 25 ms of it CPU) against 15-40 ms for the others, the rest being the copy of the WAL
into the database file and its two fdatasyncs (measured with strace). A checkpoint needs no
lock a writer holds, so here it runs on its own connection and thread while the writer goes on.

- The connections keep the WAL file at most ``RESTING_BYTES`` long after a checkpoint
  (``journal_size_limit``), so its size tells how much was written since. After each commit
  the writer looks at that size (a ``stat``: no file of the database is opened here, as closing
  it would drop SQLite's POSIX locks) and starts a PASSIVE checkpoint once the WAL has grown by
  ``GROWTH_BYTES`` since the last one started. It repeats while commits raced it: a WAL not
  wholly copied cannot restart, and grew to the fallback's 64 MB in a run of small syncs.
- Not at the end of every sync: the next sync's writes would race it, so the WAL could not
  restart, kept growing and every small sync paid for a checkpoint (measured: incremental
  syncs of 10 edits 5.0 -> 6.1 ms).
- ``FALLBACK_FRAMES`` is the connections' ``wal_autocheckpoint``: if the background checkpoint
  cannot keep up (a reader holds it back, or writes racing it keep the WAL from restarting) the
  writer checkpoints itself, as before, so the WAL never grows without bound.

Durability is SQLite's own: a checkpoint copies committed pages and syncs the file before the
WAL is reused, and a process killed in the middle loses nothing (the WAL still holds them).
A process has one ``Checkpointer`` per database file (``for_file``); its thread lives for one
checkpoint only, and closing the database (``DeviceDatabase.close``) waits for it.
"""

from __future__ import annotations

import sqlite3
import threading
from functools import cache
from pathlib import Path

__all__ = [
    "FALLBACK_FRAMES",
    "GROWTH_BYTES",
    "RESTING_BYTES",
    "Checkpointer",
    "for_file",
]

GROWTH_BYTES = 16 * 1024 * 1024  # SQLite's own automatic step (1,000 pages of 16 KiB)
RESTING_BYTES = 4 * 1024 * 1024  # well below GROWTH_BYTES: a restarted WAL does not trigger
FALLBACK_FRAMES = 4_000  # 64 MB of 16 KiB pages
CATCH_UP_PASSES = 8


def for_file(path: Path) -> Checkpointer:
    """The one checkpointer of a database file in this process."""
    return _for_file(str(Path(path).resolve()))


@cache
def _for_file(path: str) -> Checkpointer:
    return Checkpointer(Path(path))


class Checkpointer:
    """Runs PASSIVE checkpoints of one database file, one at a time, on a short-lived thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._wal = Path(f"{path}-wal")
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._started_at = 0  # the WAL's size when the last checkpoint started

    def wal_size(self) -> int:
        """The WAL file's size in bytes (0 when there is none)."""
        try:
            return self._wal.stat().st_size
        except OSError:
            return 0

    def committed(self) -> None:
        """After a commit: start a checkpoint if the WAL has grown by ``GROWTH_BYTES`` since the
        last one started."""
        size = self.wal_size()
        with self._lock:
            if size < self._started_at:  # the WAL was restarted (and cut to its resting size)
                self._started_at = 0
            if size < self._started_at + GROWTH_BYTES:
                return
            if self._thread is not None and self._thread.is_alive():
                return  # the next commit asks again if that one was not enough
            self._started_at = size
            self._thread = threading.Thread(target=self._run, name="fieldsync-checkpoint")
            self._thread.start()

    def wait(self) -> None:
        """Return when no checkpoint of this file runs on its thread."""
        with self._lock:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    @staticmethod
    def _catch_up(connection: sqlite3.Connection) -> None:
        """Checkpoint until the WAL is all in the database file, a few passes at most: only then
        can the next write restart the WAL (and cut it to its resting size). Each pass copies
        what was committed during the one before; a busy writer leaves it to the next commit
        past ``GROWTH_BYTES``."""
        for _ in range(CATCH_UP_PASSES):
            busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if busy or copied >= frames:
                return

    def _run(self) -> None:
        try:
            # mode=rw: never create a database where the store's was removed meanwhile
            connection = sqlite3.connect(f"file:{self.path}?mode=rw", uri=True, timeout=5)
            try:
                self._catch_up(connection)
            finally:
                connection.close()
        except sqlite3.Error:
            pass  # the writers' automatic checkpoint (FALLBACK_FRAMES) still bounds the WAL
