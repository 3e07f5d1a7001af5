"""Housekeeping in the database: pruning old push batches and the holders of unnamed blobs
(``server.maintenance`` does the files)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from peewee import Database

from server.db import is_postgres, write_transaction
from server.models import BlobHolder, PushBatch
from server.store.sql import database_errors, guarded


@guarded
def prune_push_batches(db: Database, cutoff: dt.datetime) -> tuple[int, int]:
    """Delete the push batches created before ``cutoff`` in one transaction; return how many
    went and how many are kept."""
    with db.bind_ctx([PushBatch]), write_transaction(db):
        deleted = PushBatch.delete().where(PushBatch.created_at < cutoff).execute()
        kept = PushBatch.select().count()
    return int(deleted), int(kept)


def _named_sql(db: Database) -> str:
    """SQL for the blob hashes attachments name (live or deleted: staff can restore those)."""
    sha = (
        "(CAST(fields AS jsonb) ->> 'sha256')"
        if is_postgres(db)
        else "json_extract(fields, '$.sha256')"
    )
    return f"SELECT {sha} AS sha FROM record WHERE type = 'attachment' AND {sha} IS NOT NULL"


def _lock(db: Database) -> None:
    """Take the lock every push takes first, of every workspace (their workspace_state rows, in
    id order), then the server row, as a blob upload does (SQLite: BEGIN IMMEDIATE has taken
    the one write lock already)."""
    if is_postgres(db):
        db.execute_sql("SELECT 1 FROM workspace_state ORDER BY workspace_id FOR UPDATE").fetchall()
        db.execute_sql("SELECT 1 FROM server_state WHERE id = 1 FOR UPDATE").fetchone()


@contextmanager
def unnamed_blobs(db: Database, cutoff: dt.datetime, limit: int) -> Iterator[list[str]]:
    """In one write transaction under the push's lock: pick up to ``limit`` blobs that no
    attachment names and whose every holder was last touched before ``cutoff``, delete their
    holders, and yield their hashes (the caller deletes the files before the commit)."""
    mark = db.param
    sql = (
        "SELECT sha256 FROM blob_holder GROUP BY sha256"
        f" HAVING MAX(COALESCE(touched_at, created_at)) < {mark}"
        f" AND sha256 NOT IN ({_named_sql(db)}) ORDER BY sha256 LIMIT {int(limit)}"
    )
    with database_errors(), db.bind_ctx([BlobHolder]), write_transaction(db):
        _lock(db)
        hashes = [row[0] for row in db.execute_sql(sql, (cutoff,)).fetchall()]
        if hashes:
            BlobHolder.delete().where(BlobHolder.sha256.in_(hashes)).execute()
        yield hashes


@contextmanager
def named_or_held(db: Database, hashes: list[str]) -> Iterator[set[str]]:
    """In one write transaction under the push's lock, yield those of ``hashes`` that a
    workspace holds or an attachment names (the caller deletes the other files meanwhile)."""
    with database_errors(), write_transaction(db):
        _lock(db)
        if not hashes:
            yield set()
            return
        marks = ", ".join([db.param] * len(hashes))
        rows = db.execute_sql(
            f"SELECT sha256 FROM blob_holder WHERE sha256 IN ({marks})"
            f" UNION SELECT sha FROM ({_named_sql(db)}) AS named WHERE sha IN ({marks})",
            (*hashes, *hashes),
        ).fetchall()
        yield {row[0] for row in rows}
