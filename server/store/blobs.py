"""Which workspace holds which blob's bytes (``BlobHolder``), and the attachment naming a blob.

The bytes themselves live on disk (``server.blobs.BlobStore``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from server.db import is_postgres, write_transaction
from server.models import BlobHolder
from server.store.sql import bound_db, guarded, read_state, tuples


def _json_text(field: str) -> str:
    """SQL for a top-level text value of the records' JSON ``fields`` column."""
    if is_postgres(bound_db()):
        return f"(CAST(fields AS jsonb) ->> '{field}')"
    return f"json_extract(fields, '$.{field}')"


@guarded
def held_by(workspace_id: str, hashes: Iterable[str]) -> set[str]:
    """Return those of ``hashes`` whose bytes a device of the workspace has uploaded."""
    wanted = list(dict.fromkeys(hashes))
    if not wanted:
        return set()
    query = BlobHolder.select(BlobHolder.sha256).where(
        (BlobHolder.workspace == workspace_id) & BlobHolder.sha256.in_(wanted)
    )
    return {sha for (sha,) in tuples(query)}


@guarded
def hold(workspace_id: str, sha256: str) -> None:
    """Record that the workspace has uploaded the blob (harmless when already recorded)."""
    BlobHolder.insert(workspace=workspace_id, sha256=sha256).on_conflict_ignore().execute()


@guarded
def usage(workspace_id: str, device_id: str) -> tuple[int, int]:
    """Return the bytes of blobs the device and its workspace hold (one query)."""
    database = bound_db()
    mark = database.param
    row = database.execute_sql(
        "SELECT COALESCE(SUM(size), 0),"
        f" COALESCE(SUM(CASE WHEN device_id = {mark} THEN size ELSE 0 END), 0)"
        f" FROM blob_holder WHERE workspace_id = {mark}",
        (device_id, workspace_id),
    ).fetchone()
    return int(row[1]), int(row[0])


def lock_writes(workspace_id: str) -> None:
    """Take the write lock a push of the workspace takes (PostgreSQL: its workspace_state row;
    SQLite: the transaction's BEGIN IMMEDIATE already holds it) and then the ServerState row, so
    quota checks, new holders and ``prune`` take turns with the workspace's pushes and with
    each other."""
    database = bound_db()
    if is_postgres(database):
        read_state(database, workspace_id, lock=True)
        database.execute_sql("SELECT 1 FROM server_state WHERE id = 1 FOR UPDATE").fetchone()


@guarded
def keep_upload(
    workspace_id: str,
    device_id: str,
    sha256: str,
    size: int,
    now: Any,
    *,
    check_room: Callable[[], None],
    settle: Callable[[], bool],
) -> bool:
    """In one write transaction under the push's lock: when the workspace does not hold the
    blob yet, ``check_room`` (it raises to refuse) and record the device's upload as its
    holder; else touch the holder. ``settle`` puts the file in place meanwhile (so ``prune``
    cannot delete it in between); return what it returns (whether the file was new)."""
    with write_transaction():
        lock_writes(workspace_id)
        held = bool(held_by(workspace_id, [sha256]))
        if not held:
            check_room()
        created = settle()
        if held:
            touch(workspace_id, [sha256], now)
        else:
            BlobHolder.insert(
                workspace=workspace_id, sha256=sha256, device_id=device_id, size=size,
                created_at=now, touched_at=now,
            ).on_conflict_ignore().execute()  # fmt: skip
    return created


def touch(workspace_id: str, hashes: Iterable[str], now: Any) -> None:
    """Mark the workspace's holders of these blobs as just used (an upload, or a device told
    the server has them): ``prune`` keeps them the grace period from now."""
    wanted = list(dict.fromkeys(hashes))
    if wanted:
        BlobHolder.update(touched_at=now).where(
            (BlobHolder.workspace == workspace_id) & BlobHolder.sha256.in_(wanted)
        ).execute()


@guarded
def held_and_touched(workspace_id: str, hashes: list[str], now: Any) -> set[str]:
    """Return those of ``hashes`` the workspace holds, touched, in one write transaction under
    the push's lock (``prune`` takes it too)."""
    with write_transaction():
        lock_writes(workspace_id)
        held = held_by(workspace_id, hashes)
        touch(workspace_id, held, now)
    return held


@guarded
def attachment_row_media_type(workspace_id: str, sha256: str) -> str | None:
    """The stored media type ("" when it has none) of the newest live attachment of the
    workspace that names the blob (a checked hash), or None when there is no such attachment.

    A LIKE on the hash narrows the workspace's attachments before the JSON is parsed; the hash
    is hex, so it holds no LIKE wildcards.
    """
    database = bound_db()
    mark = database.param
    sql = (
        f'SELECT {_json_text("media_type")} FROM "record"'
        f" WHERE workspace_id = {mark} AND type = 'attachment' AND deleted = {mark}"
        f" AND fields LIKE {mark} AND {_json_text('sha256')} = {mark}"
        " ORDER BY seq DESC LIMIT 1"
    )
    row = database.execute_sql(sql, (workspace_id, False, f"%{sha256}%", sha256)).fetchone()
    if row is None:
        return None
    return str(row[0] or "")
