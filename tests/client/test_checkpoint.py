"""The device's WAL is checkpointed on a thread of its own and stays bounded; a process killed
in the middle of a checkpoint loses nothing (field_client.checkpoint)."""

from __future__ import annotations

import os
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from field_client import checkpoint
from field_client import db as dbmod
from field_client.store import LocalStore
from tests.client.conftest import enrolled_store
from tests.clock import ManualClock

SUMMARY = "居民反映小区路灯不亮,夜间出行不便,希望尽快维修。" * 40  # about 3 KB of UTF-8


def pull_pages(pages: int, size: int) -> Iterator[dict[str, Any]]:
    """Pull pages of new visits, each record about 3 KB."""
    for p in range(pages):
        records = [
            {
                "type": "visit",
                "id": f"v{p:03d}-{n:04d}",
                "fields": {"kind": "forum", "title": f"座谈{p}-{n}", "summary": SUMMARY},
                "stamps": {"kind": "1", "title": "1", "summary": "1"},
                "deleted": False,
                "meta": {"seq": p * size + n + 1},
            }
            for n in range(size)
        ]
        yield {"records": records, "cursor": f"c{p}", "more": p + 1 < pages}


def wal_after_each_page(store: LocalStore, pages: int, size: int = 50) -> list[int]:
    """Apply the pages; after each, let a started checkpoint end and note the WAL's size."""
    sizes = []
    for page in pull_pages(pages, size):
        store.apply_pull_page(page)
        store.db.checkpointer.wait()
        sizes.append(store.db.checkpointer.wal_size())
    return sizes


PAGE_BYTES = 400 * 1024  # 50 records of about 3 KB, and their indexes: < 400 KB


def test_the_connections_leave_checkpoints_to_the_checkpointer_up_to_the_fallback(store):
    [(frames,)] = store.db.execute_sql("PRAGMA wal_autocheckpoint").fetchall()
    [(limit,)] = store.db.execute_sql("PRAGMA journal_size_limit").fetchall()
    assert frames == checkpoint.FALLBACK_FRAMES and limit == checkpoint.RESTING_BYTES
    assert frames * 16_384 > checkpoint.GROWTH_BYTES > limit


def test_a_large_pull_keeps_the_wal_bounded_checkpointing_off_the_writing_thread(
    tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(checkpoint, "GROWTH_BYTES", 1024 * 1024)
    monkeypatch.setitem(dbmod.PRAGMAS, "journal_size_limit", 256 * 1024)
    store = enrolled_store(tmp_path / "device", clock)
    writer = threading.current_thread()
    ran_on: list[threading.Thread] = []
    run = checkpoint.Checkpointer._run

    def noted(self: checkpoint.Checkpointer) -> None:
        ran_on.append(threading.current_thread())
        run(self)

    monkeypatch.setattr(checkpoint.Checkpointer, "_run", noted)
    try:
        sizes = wal_after_each_page(store, pages=30)  # about 8 MB written
    finally:
        store.close()
    assert len(ran_on) >= 4 and writer not in ran_on
    assert max(sizes) < 1024 * 1024 + 2 * PAGE_BYTES, sizes


def test_without_the_checkpointer_the_writer_still_checkpoints_past_the_fallback(
    tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(dbmod.PRAGMAS, "wal_autocheckpoint", 64)  # 1 MB of 16 KiB pages
    monkeypatch.setitem(dbmod.PRAGMAS, "journal_size_limit", 256 * 1024)
    monkeypatch.setattr(checkpoint.Checkpointer, "committed", lambda self: None)
    store = enrolled_store(tmp_path / "device", clock)
    try:
        sizes = wal_after_each_page(store, pages=30)
        assert store.db.checkpointer._thread is None  # nothing ran in the background
    finally:
        store.close()
    assert max(sizes) < 1024 * 1024 + 2 * PAGE_BYTES, sizes


def test_a_store_closed_while_it_checkpoints_reopens_with_everything(
    tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(checkpoint, "GROWTH_BYTES", 1024 * 1024)
    store = enrolled_store(tmp_path / "device", clock)
    for page in pull_pages(30, 50):
        store.apply_pull_page(page)
    thread = store.db.checkpointer._thread
    assert thread is not None
    store.close()  # the last connection: its close checkpoints too, and removes the WAL
    assert not thread.is_alive()
    again = LocalStore(store.home, now=clock)
    try:
        [(count,)] = again.db.execute_sql("SELECT count(*) FROM record").fetchall()
        assert count == 1500
        assert again.db.checkpointer is store.db.checkpointer  # one per file in a process
    finally:
        again.close()


# The child writes pull pages until a background checkpoint has started after a commit, says
# how many records it holds, and stops writing: its parent kills it while it checkpoints.
KILLED_CHILD = """
import sys, time
from pathlib import Path
from field_client import checkpoint
from tests.client.conftest import enrolled_store
from tests.client.test_checkpoint import pull_pages
from tests.clock import ManualClock

checkpoint.GROWTH_BYTES = 6 * 1024 * 1024
store = enrolled_store(Path(sys.argv[1]), ManualClock())
held = 0
for page in pull_pages(1000, 50):
    store.apply_pull_page(page)
    held += 50
    thread = store.db.checkpointer._thread
    if thread is not None and thread.is_alive():
        print(held, flush=True)
        time.sleep(60)
"""


def kill_while_copying(home: Path) -> tuple[int, bool]:
    """Run the child; kill it once its checkpoint writes into the database file; return
    (records it committed, whether the checkpoint was still unfinished then)."""
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_CHILD, str(home)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert child.stdout is not None
        held = int(child.stdout.readline())
        started = (home / dbmod.DB_FILE).stat().st_size
        deadline = time.monotonic() + 10
        while (home / dbmod.DB_FILE).stat().st_size == started and time.monotonic() < deadline:
            time.sleep(0.0005)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    return held, unfinished(home / f"{dbmod.DB_FILE}-shm")


def unfinished(shm: Path) -> bool:
    """Whether a checkpoint was still copying (wal-index header: https://www.sqlite.org/
    walformat.html, mxFrame at byte 16, nBackfill at byte 96). Read only here, in another
    process than the store's: closing any file of a database drops SQLite's POSIX locks."""
    frames, copied = struct.unpack("=16xI76xI", shm.read_bytes()[:100])
    return copied < frames


def test_a_process_killed_while_it_checkpoints_loses_no_commit(tmp_path):
    gone = False
    for attempt in range(5):  # a busy machine may let a checkpoint end before the kill
        home = tmp_path / f"device-{attempt}"
        held, gone = kill_while_copying(home)
        if gone:
            break
    assert gone and held >= 500
    db = sqlite3.connect(home / dbmod.DB_FILE)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        [(count,)] = db.execute("SELECT count(*) FROM record").fetchall()
    finally:
        db.close()
    assert count == held


def test_a_wipe_leaves_no_wal_behind_while_a_checkpoint_runs(
    tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
):
    store = enrolled_store(tmp_path / "device", clock)
    try:
        wal_after_each_page(store, pages=10)
        # the wipe's own commit starts a background checkpoint; TRUNCATE must not meet it
        monkeypatch.setattr(checkpoint, "GROWTH_BYTES", 1)
        assert store.wipe_personal_data()["records"] == 500
        assert (store.home / "fieldsync.db-wal").stat().st_size == 0
    finally:
        store.close()
