"""Wiping a device the office revoked with wipe (docs/protocol.md section 8).

The syncer calls ``wipe`` only once the outbox is empty (everything sent and answered). It
deletes, in one transaction, every record (people, places, visits, concerns), the outbox,
stored batches, rejections and conflicts, and the user's and device's names; then the photos
and files; then rebuilds the database file (``VACUUM``) and truncates its write-ahead log, so
deleted rows do not linger in free pages. Kept: the device id, the server's address and the
clock (none names a person), and the token until the server has heard that the device wiped
(``forget_token``).
"""

from __future__ import annotations

import shutil
from typing import Any

from field_client import durable
from field_client.store.common import TOKEN_FILE

__all__ = ["BLOB_FOLDER", "WIPED_FILE", "forget_token", "wipe", "wiped"]

BLOB_FOLDER = "blobs"
WIPED_FILE = "wiped"  # its presence: this home was wiped at the office's request


def wipe(store: Any) -> dict[str, int]:
    """Delete the personal data the device holds; return how many records and photos went."""
    with store.write():
        counts = {
            "records": store.db.execute_sql("SELECT COUNT(*) FROM record").fetchone()[0],
        }
        m = store.m
        for model in (m.Record, m.Outbox, m.PushBatch, m.Rejection, m.Conflict):
            model.delete().execute()
        m.DeviceState.update(user="{}", device_name="", cursor=None, restamp_needed=False).where(
            m.DeviceState.id == 1
        ).execute()
    folder = store.home / BLOB_FOLDER
    counts["photos"] = sum(1 for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0
    shutil.rmtree(folder, ignore_errors=True)
    with store._lock:
        # a background checkpoint (one the delete's commit started) would make TRUNCATE a no-op
        store.db.checkpointer.wait()
        store.db.execute_sql("VACUUM")
        store.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    durable.write_bytes(store.home / WIPED_FILE, b"wiped at the office's request\n")
    return counts


def wiped(store: Any) -> bool:
    """Whether this home was wiped at the office's request."""
    return bool((store.home / WIPED_FILE).exists())


def forget_token(store: Any) -> None:
    """Delete the device token (the server has heard that the device wiped)."""
    (store.home / TOKEN_FILE).unlink(missing_ok=True)
